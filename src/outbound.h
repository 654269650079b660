/*
 * outbound.h: the SSRF guard every outbound curl handle goes through
 * (outbound.c).
 */
#ifndef AIGW_OUTBOUND_H
#define AIGW_OUTBOUND_H

#include "postgres.h"

#include <curl/curl.h>

#define AIGW_OUTBOUND_HOSTLEN 256
#define AIGW_OUTBOUND_ADDRLEN 64

/* One transfer's guard: what it is connecting to, and what was refused */
typedef struct AigwOutbound
{
	char		host[AIGW_OUTBOUND_HOSTLEN];	/* the URL's host, lower-case */
	char		refused[AIGW_OUTBOUND_ADDRLEN]; /* an address refused, or "" */
	bool		opened;			/* a socket to an allowed address was opened */
} AigwOutbound;

extern char *aigw_outbound_allow_hosts;

extern void AigwOutboundInit(void);

/*
 * Sets url on easy with the guard's options: http and https only, no
 * redirects, no proxy from the environment, and every address checked
 * before curl connects. guard must live as long as the transfer. Returns
 * false with *error when the URL itself is refused.
 */
extern bool AigwOutboundPrepare(CURL *easy, const char *url, AigwOutbound *guard, char **error);

/*
 * The failure message of a transfer whose connection the guard refused, or
 * NULL (also when another, allowed address was tried: curl's error is the reason)
 */
extern char *AigwOutboundRefusal(const AigwOutbound *guard);

#endif							/* AIGW_OUTBOUND_H */
