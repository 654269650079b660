/*
 * http_entry.h: HTTP entry and authentication (src/http_entry.c).
 */
#ifndef AIGW_HTTP_ENTRY_H
#define AIGW_HTTP_ENTRY_H

extern char *aigw_jwt_secret;
extern char *aigw_internal_token;
extern int	aigw_jwt_leeway_s;

extern void AigwHttpInit(void);

#endif
