/*
 * http_entry.c: GUCs of the HTTP entry and the HS256 JSON Web Token
 * primitives that authentication needs (signing, verification with a
 * constant-time comparison). Routing and the rest of the entry are SQL
 * (src/sql/400-449).
 */
#include "aigw.h"
#include "http_entry.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/fmgrprotos.h"
#include "nodes/miscnodes.h"
#include "mb/pg_wchar.h"

char	   *aigw_jwt_secret = NULL;
char	   *aigw_internal_token = NULL;
int			aigw_jwt_leeway_s = 30;
int			aigw_identity_mode = AIGW_IDENTITY_HYBRID;
char	   *aigw_server_main_verify_url = NULL;

/* Values of aigw.identity_mode (seed 003 section 7.0) */
static const struct config_enum_entry identity_mode_options[] = {
	{"standalone", AIGW_IDENTITY_STANDALONE, false},
	{"server-main", AIGW_IDENTITY_SERVER_MAIN, false},
	{"hybrid", AIGW_IDENTITY_HYBRID, false},
	{NULL, 0, false}
};

/* Defines the HTTP entry's GUCs; secrets are visible to superusers only */
void
AigwHttpInit(void)
{
	DefineCustomStringVariable("aigw.jwt_secret",
							   "HS256 secret of user JWTs (server-main's CONFIG_JWT_SECRET); empty disables JWT.",
							   NULL, &aigw_jwt_secret, "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.internal_token",
							   "Service token of server-main (with X-EasyAI-Actor); empty disables it.",
							   NULL, &aigw_internal_token, "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.jwt_leeway",
							"Clock skew in seconds allowed when checking JWT exp and nbf.",
							NULL, &aigw_jwt_leeway_s, 30, 0, 3600,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("aigw.identity_mode",
							 "Whose identities are accepted: standalone (local accounts and keys), server-main (server-main JWTs and keys it verifies) or hybrid (both).",
							 NULL, &aigw_identity_mode, AIGW_IDENTITY_HYBRID, identity_mode_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.server_main_verify_url",
							   "server-main endpoint that verifies sk- API keys which are not local (server-main and hybrid modes); empty: none.",
							   NULL, &aigw_server_main_verify_url, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
}

/* Encodes bytes as unpadded base64url into a palloc'd string */
static char *
Base64UrlEncode(const unsigned char *src, int len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char	   *out = palloc((len + 2) / 3 * 4 + 1);
	int			o = 0;

	for (int i = 0; i < len; i += 3)
	{
		uint32		v = (uint32) src[i] << 16 | (i + 1 < len ? (uint32) src[i + 1] << 8 : 0) |
			(i + 2 < len ? src[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = tab[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0';
	return out;
}

/* Decodes unpadded base64url; returns NULL on a bad character */
static unsigned char *
Base64UrlDecode(const char *src, int len, int *outlen)
{
	unsigned char *out = palloc(len * 3 / 4 + 3);
	uint32		acc = 0;
	int			bits = 0,
				o = 0;

	for (int i = 0; i < len; i++)
	{
		int			c = (unsigned char) src[i];
		int			v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-' || c == '+')
			v = 62;
		else if (c == '_' || c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			return NULL;
		acc = acc << 6 | v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (unsigned char) (acc >> bits & 0xff);
		}
	}
	*outlen = o;
	return out;
}

/* HMAC-SHA256 of msg with key */
static void
HmacSha256(const char *key, size_t keylen, const char *msg, size_t msglen, unsigned char out[32])
{
	unsigned int olen = 32;

	if (!HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) msg, msglen, out, &olen) || olen != 32)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("HMAC-SHA256 failed")));
}

/* Parses decoded JSON text into jsonb, NULL when it is not JSON */
static Datum
JsonbFromBytes(const unsigned char *bytes, int len, bool *ok)
{
	char	   *text = pnstrdup((const char *) bytes, len);
	Datum		result = (Datum) 0;

	*ok = false;
	if ((int) strlen(text) != len || pg_verifymbstr(text, len, true) == false)
		return result;
	{
		ErrorSaveContext escontext = {T_ErrorSaveContext};
		Datum		d;

		if (DirectInputFunctionCallSafe(jsonb_in, text, InvalidOid, -1, (Node *) &escontext, &d))
		{
			*ok = true;
			result = d;
		}
	}
	return result;
}

PG_FUNCTION_INFO_V1(aigw_jwt_sign_hs256);

/* Signs a payload as an HS256 JWT: aigw.jwt_sign_hs256(payload jsonb, secret text) */
Datum
aigw_jwt_sign_hs256(PG_FUNCTION_ARGS)
{
	Jsonb	   *payload = PG_GETARG_JSONB_P(0);
	text	   *secret = PG_GETARG_TEXT_PP(1);
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char	   *ptext = JsonbToCString(NULL, &payload->root, VARSIZE(payload));
	char	   *h64 = Base64UrlEncode((const unsigned char *) header, strlen(header));
	char	   *p64 = Base64UrlEncode((const unsigned char *) ptext, strlen(ptext));
	char	   *signing = psprintf("%s.%s", h64, p64);
	unsigned char mac[32];

	if (JB_ROOT_IS_SCALAR(payload) || !JB_ROOT_IS_OBJECT(payload))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("JWT payload must be a JSON object")));
	if (VARSIZE_ANY_EXHDR(secret) == 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("JWT secret must not be empty")));
	HmacSha256(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret), signing, strlen(signing), mac);
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s.%s", signing, Base64UrlEncode(mac, 32))));
}

PG_FUNCTION_INFO_V1(aigw_jwt_verify_hs256);

/*
 * Verifies an HS256 JWT's header and signature and returns its payload, or
 * NULL when the token is malformed, uses another algorithm, or the signature
 * does not match. Expiry is checked by the caller (SQL).
 */
Datum
aigw_jwt_verify_hs256(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	text	   *secret = PG_GETARG_TEXT_PP(1);
	char	   *tok = text_to_cstring(token);
	char	   *dot1 = strchr(tok, '.');
	char	   *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	unsigned char mac[32];
	unsigned char *sig,
			   *hdr,
			   *pl;
	int			siglen,
				hdrlen,
				pllen;
	bool		ok;
	Datum		header,
				payload;
	Jsonb	   *hj;
	JsonbValue	key,
			   *alg;

	if (VARSIZE_ANY_EXHDR(secret) == 0 || !dot1 || !dot2 || strchr(dot2 + 1, '.'))
		PG_RETURN_NULL();
	sig = Base64UrlDecode(dot2 + 1, strlen(dot2 + 1), &siglen);
	if (!sig || siglen != 32)
		PG_RETURN_NULL();
	HmacSha256(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret), tok, dot2 - tok, mac);
	if (CRYPTO_memcmp(mac, sig, 32) != 0)
		PG_RETURN_NULL();
	hdr = Base64UrlDecode(tok, dot1 - tok, &hdrlen);
	pl = Base64UrlDecode(dot1 + 1, dot2 - dot1 - 1, &pllen);
	if (!hdr || !pl)
		PG_RETURN_NULL();
	header = JsonbFromBytes(hdr, hdrlen, &ok);
	if (!ok)
		PG_RETURN_NULL();
	hj = DatumGetJsonbP(header);
	if (!JB_ROOT_IS_OBJECT(hj) || JB_ROOT_IS_SCALAR(hj))
		PG_RETURN_NULL();
	key.type = jbvString;
	key.val.string.val = "alg";
	key.val.string.len = 3;
	alg = findJsonbValueFromContainer(&hj->root, JB_FOBJECT, &key);
	if (!alg || alg->type != jbvString || alg->val.string.len != 5 ||
		memcmp(alg->val.string.val, "HS256", 5) != 0)
		PG_RETURN_NULL();
	payload = JsonbFromBytes(pl, pllen, &ok);
	if (!ok || !JB_ROOT_IS_OBJECT(DatumGetJsonbP(payload)) || JB_ROOT_IS_SCALAR(DatumGetJsonbP(payload)))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(payload);
}
