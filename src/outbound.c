/*
 * outbound.c: the SSRF guard.
 *
 * Every outbound request (provider calls, callbacks, settlement events) sets
 * its URL through AigwOutboundPrepare(), which allows http and https only,
 * follows no redirect, ignores proxies named by the environment (a proxy
 * would resolve the destination where the guard cannot see it) and installs
 * a CURLOPT_OPENSOCKETFUNCTION that checks each address curl is about to
 * connect to, after DNS resolution.  Private, loopback, link-local (and so
 * the 169.254.169.254 metadata address), CGNAT, unique-local, multicast,
 * reserved and unspecified addresses are refused, including their
 * IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms, unless the
 * URL's host name or the address is listed in aigw.outbound_allow_hosts.
 */
#include "outbound.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

/* One aigw.outbound_allow_hosts entry: a host name (or *.suffix) or a CIDR */
typedef struct AllowEntry
{
	bool		is_host;
	char		host[AIGW_OUTBOUND_HOSTLEN];
	int			family;			/* AF_INET or AF_INET6 */
	uint8		addr[16];
	int			bits;
} AllowEntry;

typedef struct AllowList
{
	int			n;
	AllowEntry	entries[FLEXIBLE_ARRAY_MEMBER];
} AllowList;

/* A blocked range: family, prefix bytes and length */
typedef struct BlockedRange
{
	uint8		prefix[16];
	int			bits;
} BlockedRange;

static const BlockedRange blocked_v4[] = {
	{{0, 0, 0, 0}, 8},			/* "this" network, 0.0.0.0 */
	{{10, 0, 0, 0}, 8},			/* private */
	{{100, 64, 0, 0}, 10},		/* CGNAT */
	{{127, 0, 0, 0}, 8},		/* loopback */
	{{169, 254, 0, 0}, 16},		/* link-local, cloud metadata */
	{{172, 16, 0, 0}, 12},		/* private */
	{{192, 0, 0, 0}, 24},		/* IETF protocol assignments */
	{{192, 168, 0, 0}, 16},		/* private */
	{{198, 18, 0, 0}, 15},		/* benchmarking */
	{{224, 0, 0, 0}, 4},		/* multicast */
	{{240, 0, 0, 0}, 4},		/* reserved, broadcast */
};

static const BlockedRange blocked_v6[] = {
	{{0}, 128},					/* unspecified :: */
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128},	/* loopback ::1 */
	{{0xfc}, 7},				/* unique-local fc00::/7 */
	{{0xfe, 0x80}, 10},			/* link-local fe80::/10 */
	{{0xfe, 0xc0}, 10},			/* site-local fec0::/10 (deprecated) */
	{{0xff}, 8},				/* multicast */
};

char	   *aigw_outbound_allow_hosts = NULL;
static AllowList *allow_list = NULL;
/* the allow list as last assigned, and when it last changed in this process */
static char *allow_text = NULL;
static time_t allow_changed_at = 0;

/* True when the first bits of a equal those of prefix */
static bool
PrefixMatch(const uint8 *a, const uint8 *prefix, int bits)
{
	int			full = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, prefix, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ prefix[full]) & (uint8) (0xff << (8 - rest))) == 0;
}

/* Turns IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses into IPv4 */
static void
Normalize(int *family, uint8 *a)
{
	static const uint8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8 zero[12] = {0};

	if (*family != AF_INET6)
		return;
	if (memcmp(a, mapped, 12) == 0 ||
		(memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14]) != 0))
	{
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		*family = AF_INET;
	}
}

/* True when an IPv4 address is in a blocked range */
static bool
V4Blocked(const uint8 *a)
{
	for (int i = 0; i < lengthof(blocked_v4); i++)
		if (PrefixMatch(a, blocked_v4[i].prefix, blocked_v4[i].bits))
			return true;
	return false;
}

/* True when a normalized address is in a blocked range (embedded IPv4 included) */
static bool
AddressBlocked(int family, const uint8 *a)
{
	static const uint8 nat64[12] = {0, 0x64, 0xff, 0x9b};
	static const uint8 six_to_four[2] = {0x20, 0x02};

	if (family == AF_INET)
		return V4Blocked(a);
	for (int i = 0; i < lengthof(blocked_v6); i++)
		if (PrefixMatch(a, blocked_v6[i].prefix, blocked_v6[i].bits))
			return true;
	if (memcmp(a, nat64, 12) == 0)
		return V4Blocked(a + 12);
	if (memcmp(a, six_to_four, 2) == 0)
		return V4Blocked(a + 2);
	return false;
}

/* True when the host name is allowed by an entry (exact, or *.suffix) */
static bool
HostAllowed(const char *host)
{
	int			hlen;

	if (allow_list == NULL || host == NULL || host[0] == '\0')
		return false;
	hlen = strlen(host);
	for (int i = 0; i < allow_list->n; i++)
	{
		const AllowEntry *e = &allow_list->entries[i];

		if (!e->is_host)
			continue;
		if (strncmp(e->host, "*.", 2) == 0)
		{
			int			slen = strlen(e->host) - 1; /* ".suffix" */

			if (hlen > slen && strcmp(host + hlen - slen, e->host + 1) == 0)
				return true;
		}
		else if (strcmp(host, e->host) == 0)
			return true;
	}
	return false;
}

/* True when a normalized address is inside an allowed CIDR */
static bool
AddressListed(int family, const uint8 *a)
{
	if (allow_list == NULL)
		return false;
	for (int i = 0; i < allow_list->n; i++)
	{
		const AllowEntry *e = &allow_list->entries[i];

		if (!e->is_host && e->family == family && PrefixMatch(a, e->addr, e->bits))
			return true;
	}
	return false;
}

/* The guard's decision for one address (raw bytes of family) reached through host */
static bool
AddressAllowed(int family, const uint8 *raw, const char *host)
{
	uint8		a[16];

	if (host && HostAllowed(host))
		return true;
	memset(a, 0, sizeof(a));
	memcpy(a, raw, family == AF_INET ? 4 : 16);
	Normalize(&family, a);
	if (AddressListed(family, a))
		return true;
	return !AddressBlocked(family, a);
}

/* Parses an address or CIDR into an entry; false when it is neither */
static bool
ParseCidr(const char *text, AllowEntry *e)
{
	char		buf[AIGW_OUTBOUND_HOSTLEN];
	char	   *slash;
	int			max;

	strlcpy(buf, text, sizeof(buf));
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, e->addr) == 1)
		e->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, e->addr) == 1)
		e->family = AF_INET6;
	else
		return false;
	max = e->family == AF_INET ? 32 : 128;
	e->bits = max;
	if (slash)
	{
		char	   *end;
		long		bits = strtol(slash + 1, &end, 10);

		if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > max)
			return false;
		e->bits = (int) bits;
	}
	Normalize(&e->family, e->addr);
	if (e->family == AF_INET && max == 128)
		e->bits = Max(e->bits - 96, 0);
	e->is_host = false;
	return true;
}

/* True for a host name entry: letters, digits, '-', '.', '_', optionally "*." first */
static bool
ValidHostName(const char *s)
{
	const char *p = strncmp(s, "*.", 2) == 0 ? s + 2 : s;

	if (*p == '\0' || strlen(s) >= AIGW_OUTBOUND_HOSTLEN)
		return false;
	for (; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '-' || *p == '.' || *p == '_'))
			return false;
	return true;
}

/* GUC check hook: parses the comma list into an AllowList kept as extra */
static bool
CheckAllowHosts(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval ? *newval : "");
	int			max = 1;
	AllowList  *list;
	char	   *tok;
	char	   *save = NULL;

	for (char *p = copy; *p; p++)
		if (*p == ',')
			max++;
	list = guc_malloc(LOG, offsetof(AllowList, entries) + sizeof(AllowEntry) * max);
	if (list == NULL)
		return false;
	list->n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		AllowEntry *e = &list->entries[list->n];
		char	   *s = tok;
		int			len;

		while (isspace((unsigned char) *s))
			s++;
		len = strlen(s);
		while (len > 0 && isspace((unsigned char) s[len - 1]))
			s[--len] = '\0';
		if (len == 0)
			continue;
		if (s[0] == '[' && s[len - 1] == ']')
		{
			s[len - 1] = '\0';
			s++;
		}
		memset(e, 0, sizeof(*e));
		if (!ParseCidr(s, e))
		{
			if (strchr(s, '/') || !ValidHostName(s))
			{
				GUC_check_errdetail("\"%s\" is neither a host name nor an IP address or CIDR range.", s);
				guc_free(list);
				pfree(copy);
				return false;
			}
			e->is_host = true;
			for (int i = 0; s[i]; i++)
				e->host[i] = pg_tolower((unsigned char) s[i]);
		}
		list->n++;
	}
	pfree(copy);
	*extra = list;
	return true;
}

/* GUC assign hook; remembers when the list changed (see AigwOutboundPrepare) */
static void
AssignAllowHosts(const char *newval, void *extra)
{
	allow_list = extra;
	if (allow_text == NULL || strcmp(allow_text, newval ? newval : "") != 0)
	{
		free(allow_text);
		allow_text = strdup(newval ? newval : "");
		allow_changed_at = time(NULL);
	}
}

/* Defines aigw.outbound_allow_hosts */
void
AigwOutboundInit(void)
{
	DefineCustomStringVariable("aigw.outbound_allow_hosts",
							   "Host names and addresses (IP or CIDR) outbound requests may reach although they are private, "
							   "loopback or link-local.",
							   "Comma-separated, e.g. \"127.0.0.1, localhost, 10.1.0.0/16, *.internal.example\".",
							   &aigw_outbound_allow_hosts, "",
							   PGC_SUSET, GUC_LIST_INPUT, CheckAllowHosts, AssignAllowHosts, NULL);
}

/* CURLOPT_OPENSOCKETFUNCTION: checks the address, then opens the socket as curl would */
static curl_socket_t
OpenSocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	AigwOutbound *guard = clientp;
	const uint8 *raw = NULL;

	if (address->family == AF_INET)
		raw = (const uint8 *) &((struct sockaddr_in *) &address->addr)->sin_addr;
	else if (address->family == AF_INET6)
		raw = (const uint8 *) &((struct sockaddr_in6 *) &address->addr)->sin6_addr;
	if (raw == NULL)
	{
		strlcpy(guard->refused, "(not an IP address)", sizeof(guard->refused));
		return CURL_SOCKET_BAD;
	}
	if (!AddressAllowed(address->family, raw, guard->host))
	{
		if (inet_ntop(address->family, raw, guard->refused, sizeof(guard->refused)) == NULL)
			strlcpy(guard->refused, "(unprintable)", sizeof(guard->refused));
		return CURL_SOCKET_BAD;
	}
	guard->opened = true;
	return socket(address->family, address->socktype, address->protocol);
}

/* See outbound.h */
bool
AigwOutboundPrepare(CURL *easy, const char *url, AigwOutbound *guard, char **error)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = false;

	memset(guard, 0, sizeof(*guard));
	*error = NULL;
	if (u == NULL)
	{
		*error = pstrdup("out of memory");
		return false;
	}
	if (url == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		*error = psprintf("\"%s\" is not a valid URL", url ? url : "");
	else if (pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0)
		*error = psprintf("outbound URL scheme \"%s\" is not allowed (http and https only)", scheme);
	else
	{
		const char *h = host;
		int			len = strlen(h);
		int			o = 0;

		if (h[0] == '[' && len > 1 && h[len - 1] == ']')
		{
			h++;
			len -= 2;
		}
		for (int i = 0; i < len && o < AIGW_OUTBOUND_HOSTLEN - 1; i++)
			guard->host[o++] = pg_tolower((unsigned char) h[i]);
		guard->host[o] = '\0';
		ok = true;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	if (!ok)
		return false;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, guard);

	/*
	 * A kept-alive connection is reused without a new address check, so one
	 * opened before the allow list last changed must not be: connections
	 * older than that change are not reused (curl counts whole seconds, hence
	 * one second less, and no reuse at all just after the change).
	 */
	if (allow_changed_at != 0)
	{
		long		since = (long) (time(NULL) - allow_changed_at);

		if (since < 2)
			curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
		else
			curl_easy_setopt(easy, CURLOPT_MAXLIFETIME_CONN, since - 1);
	}
	return true;
}

/* See outbound.h */
char *
AigwOutboundRefusal(const AigwOutbound *guard)
{
	if (guard == NULL || guard->refused[0] == '\0' || guard->opened)
		return NULL;
	return psprintf("outbound address %s is not allowed (aigw.outbound_allow_hosts)", guard->refused);
}

PG_FUNCTION_INFO_V1(aigw_outbound_address_allowed);

/*
 * aigw.outbound_address_allowed(address, host): the guard's decision for a
 * connection to address (an IP) for a URL whose host is host (may be null).
 */
Datum
aigw_outbound_address_allowed(PG_FUNCTION_ARGS)
{
	char	   *address;
	char	   *host = NULL;
	uint8		raw[16];
	int			family;
	int			len;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	address = text_to_cstring(PG_GETARG_TEXT_PP(0));
	len = strlen(address);
	if (len > 2 && address[0] == '[' && address[len - 1] == ']')
	{
		address[len - 1] = '\0';
		address++;
	}
	if (inet_pton(AF_INET, address, raw) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, address, raw) == 1)
		family = AF_INET6;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("\"%s\" is not an IP address", address)));
	if (!PG_ARGISNULL(1))
	{
		char	   *h = text_to_cstring(PG_GETARG_TEXT_PP(1));

		host = palloc(strlen(h) + 1);
		for (int i = 0; h[i]; i++)
			host[i] = pg_tolower((unsigned char) h[i]);
		host[strlen(h)] = '\0';
	}
	PG_RETURN_BOOL(AddressAllowed(family, raw, host));
}
