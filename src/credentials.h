/*
 * credentials.h: platform credentials sealed with AES-256-GCM (credentials.c).
 */
#ifndef AIGW_CREDENTIALS_H
#define AIGW_CREDENTIALS_H

#include "postgres.h"

/* Every sealed value starts with this; the key id and the sealed bytes follow */
#define AIGW_SEALED_PREFIX "aigw:v1:"

extern char *aigw_credential_key_file;
extern char *aigw_credential_previous_key_file;

extern void AigwCredentialInit(void);

/*
 * Opens a sealed credential for a provider call. Never raises: on failure
 * returns false and sets *error to a message that names no secret. Not
 * SQL-callable; only task workers call it.
 */
extern bool AigwCredentialOpen(const char *sealed, char **plain, char **error);

#endif							/* AIGW_CREDENTIALS_H */
