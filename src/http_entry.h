/*
 * http_entry.h: HTTP entry and authentication (src/http_entry.c).
 */
#ifndef AIGW_HTTP_ENTRY_H
#define AIGW_HTTP_ENTRY_H

extern char *aigw_jwt_secret;
extern char *aigw_internal_token;
extern int	aigw_jwt_leeway_s;
extern int	aigw_identity_mode;
extern char *aigw_server_main_verify_url;

/* aigw.identity_mode */
#define AIGW_IDENTITY_STANDALONE 0
#define AIGW_IDENTITY_SERVER_MAIN 1
#define AIGW_IDENTITY_HYBRID 2

extern void AigwHttpInit(void);

#endif
