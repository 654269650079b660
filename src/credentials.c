/*
 * credentials.c: platform credentials sealed with AES-256-GCM.
 *
 * integration_platforms.credentials is a JSON object of string values; each
 * value is stored sealed as "aigw:v1:<key id>:<base64(nonce | ciphertext |
 * tag)>": a random 96-bit nonce per value, a 128-bit GCM tag, and the
 * "aigw:v1:<key id>" prefix as additional authenticated data, so that
 * neither the bytes nor the key id can be changed unnoticed.  The key id is
 * the first 4 bytes of SHA-256(key) in hex, which lets keys rotate: values
 * sealed under aigw.credential_previous_key_file still open while
 * aigw.rotate_credentials() re-seals them under aigw.credential_key_file.
 *
 * Sealing is SQL-callable (a trigger seals every write).  Opening is not:
 * only task workers open a value, right before a provider call, through
 * AigwCredentialOpen().  The SQL functions that authenticate or re-seal
 * sealed values return no plaintext.
 */
#include "credentials.h"

#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/base64.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16
#define KID_CHARS 8
/* "aigw:v1:" + key id + ":" */
#define HEADER_CHARS (sizeof(AIGW_SEALED_PREFIX) - 1 + KID_CHARS + 1)

char	   *aigw_credential_key_file = NULL;
char	   *aigw_credential_previous_key_file = NULL;

/* A key read from a file; reread when the file changes */
typedef struct KeySlot
{
	bool		loaded;
	char	   *path;			/* malloc'd */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	struct timespec ctime;		/* changes with the mode, so a chmod is checked again */
	uint8		key[KEY_BYTES];
	char		kid[KID_CHARS + 1];
} KeySlot;

static KeySlot current_key;
static KeySlot previous_key;

/* Why the last key or crypto step failed: an SQLSTATE for the SQL callers */
static int	failure_code = 0;

/* Defines the two key-file GUCs */
void
AigwCredentialInit(void)
{
	DefineCustomStringVariable("aigw.credential_key_file",
							   "File holding the key that seals platform credentials (32 raw bytes or 64 hex characters).",
							   "Without it, platform credentials cannot be stored. The file must be owned by the server's "
							   "user and readable by it alone (0600), or owned by root with at most 0640.",
							   &aigw_credential_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.credential_previous_key_file",
							   "A former credential key, used only to open values not yet re-sealed by aigw.rotate_credentials().",
							   NULL, &aigw_credential_previous_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}

/* Sets the failure SQLSTATE and returns a palloc'd message */
static char *
Failure(int code, const char *fmt,...) pg_attribute_printf(2, 3);

static char *
Failure(int code, const char *fmt,...)
{
	va_list		ap;
	char		buf[1024];

	failure_code = code;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return pstrdup(buf);
}

/* Value of one hex digit, or -1 */
static int
HexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The key id: the first 4 bytes of SHA-256(key), in hex */
static bool
KeyId(const uint8 *key, char *kid)
{
	uint8		md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(key, KEY_BYTES, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 4)
		return false;
	for (int i = 0; i < 4; i++)
		snprintf(kid + 2 * i, 3, "%02x", md[i]);
	return true;
}

/* Checks that only the server's user (or root, for reading) can reach the file */
static char *
CheckKeyFileMode(const char *path, const struct stat *st, const char *guc)
{
	if (!S_ISREG(st->st_mode))
		return Failure(ERRCODE_CONFIG_FILE_ERROR, "%s \"%s\" is not a regular file", guc, path);
	if (st->st_uid == geteuid())
	{
		if (st->st_mode & (S_IRWXG | S_IRWXO))
			return Failure(ERRCODE_CONFIG_FILE_ERROR,
						   "%s \"%s\" has group or world access; it must be readable by its owner alone (chmod 600)",
						   guc, path);
	}
	else if (st->st_uid == 0)
	{
		if (st->st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))
			return Failure(ERRCODE_CONFIG_FILE_ERROR,
						   "%s \"%s\" is owned by root and must have mode 0640 or less", guc, path);
	}
	else
		return Failure(ERRCODE_CONFIG_FILE_ERROR,
					   "%s \"%s\" must be owned by the database server's user or by root", guc, path);
	return NULL;
}

/* Reads 32 raw bytes or 64 hex characters (trailing white space ignored) */
static char *
ReadKeyBytes(int fd, off_t size, const char *path, const char *guc, uint8 *key)
{
	char		buf[160];
	ssize_t		n;
	size_t		len;

	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return Failure(ERRCODE_CONFIG_FILE_ERROR, "could not read %s \"%s\": %m", guc, path);
	if (n == KEY_BYTES && size == KEY_BYTES)
	{
		memcpy(key, buf, KEY_BYTES);
		explicit_bzero(buf, sizeof(buf));
		return NULL;
	}
	len = (size_t) n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
					   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len == 2 * KEY_BYTES)
	{
		bool		ok = true;

		for (int i = 0; i < KEY_BYTES && ok; i++)
		{
			int			hi = HexValue(buf[2 * i]);
			int			lo = HexValue(buf[2 * i + 1]);

			ok = hi >= 0 && lo >= 0;
			key[i] = (uint8) ((hi << 4) | lo);
		}
		explicit_bzero(buf, sizeof(buf));
		if (ok)
			return NULL;
	}
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(key, KEY_BYTES);
	return Failure(ERRCODE_CONFIG_FILE_ERROR,
				   "%s \"%s\" must hold 32 raw bytes or 64 hexadecimal characters", guc, path);
}

/* Loads (or keeps) the key of path into slot; returns an error message or NULL */
static char *
LoadKey(KeySlot *slot, const char *path, const char *guc)
{
	struct stat st;
	int			fd;
	char	   *error;
	uint8		key[KEY_BYTES];

	if (stat(path, &st) != 0)
		return Failure(ERRCODE_CONFIG_FILE_ERROR, "could not open %s \"%s\": %m", guc, path);
	if (slot->loaded && strcmp(slot->path, path) == 0 && slot->dev == st.st_dev && slot->ino == st.st_ino &&
		slot->size == st.st_size && slot->mtime.tv_sec == st.st_mtim.tv_sec &&
		slot->mtime.tv_nsec == st.st_mtim.tv_nsec && slot->ctime.tv_sec == st.st_ctim.tv_sec &&
		slot->ctime.tv_nsec == st.st_ctim.tv_nsec)
		return NULL;
	if ((error = CheckKeyFileMode(path, &st, guc)) != NULL)
		return error;
	fd = open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return Failure(ERRCODE_CONFIG_FILE_ERROR, "could not open %s \"%s\": %m", guc, path);
	error = ReadKeyBytes(fd, st.st_size, path, guc, key);
	close(fd);
	if (error)
		return error;
	slot->loaded = false;
	if (!KeyId(key, slot->kid))
	{
		explicit_bzero(key, sizeof(key));
		return Failure(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION, "could not compute the id of %s", guc);
	}
	free(slot->path);
	slot->path = strdup(path);
	if (slot->path == NULL)
	{
		explicit_bzero(key, sizeof(key));
		return Failure(ERRCODE_OUT_OF_MEMORY, "out of memory");
	}
	memcpy(slot->key, key, KEY_BYTES);
	explicit_bzero(key, sizeof(key));
	slot->dev = st.st_dev;
	slot->ino = st.st_ino;
	slot->size = st.st_size;
	slot->mtime = st.st_mtim;
	slot->ctime = st.st_ctim;
	slot->loaded = true;
	return NULL;
}

/* The sealing key (aigw.credential_key_file); NULL and *error when unusable */
static KeySlot *
CurrentKey(char **error)
{
	if (aigw_credential_key_file == NULL || aigw_credential_key_file[0] == '\0')
	{
		*error = Failure(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						 "aigw.credential_key_file is not set, so platform credentials cannot be sealed or opened");
		return NULL;
	}
	*error = LoadKey(&current_key, aigw_credential_key_file, "aigw.credential_key_file");
	return *error ? NULL : &current_key;
}

/* The key whose id is kid: the current one, else the previous one */
static KeySlot *
KeyForId(const char *kid, char **error)
{
	char	   *cerr = NULL;
	char	   *perr = NULL;
	KeySlot    *k = CurrentKey(&cerr);

	if (k && strcmp(k->kid, kid) == 0)
		return k;
	if (aigw_credential_previous_key_file && aigw_credential_previous_key_file[0])
	{
		perr = LoadKey(&previous_key, aigw_credential_previous_key_file, "aigw.credential_previous_key_file");
		if (perr == NULL && strcmp(previous_key.kid, kid) == 0)
			return &previous_key;
	}
	if (k == NULL)
		*error = cerr;
	else if (perr)
		*error = perr;
	else
		*error = Failure(ERRCODE_INVALID_PARAMETER_VALUE,
						 "the credential was sealed with key %s, which is neither aigw.credential_key_file "
						 "(key %s) nor aigw.credential_previous_key_file", kid, k->kid);
	return NULL;
}

/* True when s looks like a sealed value's header: prefix, 8 hex digits, ':' */
static bool
IsSealed(const char *s, int len)
{
	int			plen = sizeof(AIGW_SEALED_PREFIX) - 1;

	if (len < (int) HEADER_CHARS || strncmp(s, AIGW_SEALED_PREFIX, plen) != 0)
		return false;
	for (int i = 0; i < KID_CHARS; i++)
	{
		char		c = s[plen + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return s[plen + KID_CHARS] == ':';
}

/* Seals len bytes of plain under key k; returns the palloc'd text form */
static char *
SealBytes(const char *plain, int len, KeySlot *k, char **error)
{
	char		header[HEADER_CHARS + 1];
	int			blen = NONCE_BYTES + len + TAG_BYTES;
	uint8	   *blob = palloc(blen);
	EVP_CIPHER_CTX *ctx;
	int			n1 = 0,
				n2 = 0;
	bool		ok;
	char	   *out;
	int			olen;

	snprintf(header, sizeof(header), "%s%s:", AIGW_SEALED_PREFIX, k->kid);
	if (!pg_strong_random(blob, NONCE_BYTES))
	{
		*error = Failure(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION, "could not generate a random nonce");
		return NULL;
	}
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
		EVP_EncryptInit_ex(ctx, NULL, NULL, k->key, blob) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &n1, (const uint8 *) header, HEADER_CHARS - 1) == 1 &&
		EVP_EncryptUpdate(ctx, blob + NONCE_BYTES, &n1, (const uint8 *) plain, len) == 1 &&
		EVP_EncryptFinal_ex(ctx, blob + NONCE_BYTES + n1, &n2) == 1 &&
		n1 + n2 == len &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, blob + NONCE_BYTES + len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
	{
		*error = Failure(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION, "AES-256-GCM encryption failed");
		return NULL;
	}
	out = palloc(HEADER_CHARS + pg_b64_enc_len(blen) + 1);
	memcpy(out, header, HEADER_CHARS);
	olen = pg_b64_encode(blob, blen, out + HEADER_CHARS, pg_b64_enc_len(blen));
	pfree(blob);
	if (olen < 0)
	{
		*error = Failure(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION, "could not encode a sealed credential");
		return NULL;
	}
	out[HEADER_CHARS + olen] = '\0';
	return out;
}

/* Opens a sealed value of len bytes; the plaintext is palloc'd and NUL-terminated */
static char *
OpenBytes(const char *sealed, int len, int *plain_len, char **error)
{
	char		kid[KID_CHARS + 1];
	KeySlot    *k;
	int			maxlen;
	uint8	   *blob;
	int			blen;
	int			clen;
	char	   *plain;
	EVP_CIPHER_CTX *ctx;
	int			n1 = 0,
				n2 = 0;
	bool		ok;

	if (!IsSealed(sealed, len))
	{
		*error = Failure(ERRCODE_INVALID_PARAMETER_VALUE,
						 "the credential is not sealed (aigw.credential_key_file was not set when it was written?)");
		return NULL;
	}
	memcpy(kid, sealed + sizeof(AIGW_SEALED_PREFIX) - 1, KID_CHARS);
	kid[KID_CHARS] = '\0';
	if ((k = KeyForId(kid, error)) == NULL)
		return NULL;
	maxlen = pg_b64_dec_len(len - HEADER_CHARS);
	blob = palloc(maxlen + 1);
	blen = pg_b64_decode(sealed + HEADER_CHARS, len - HEADER_CHARS, blob, maxlen);
	if (blen < NONCE_BYTES + TAG_BYTES)
	{
		*error = Failure(ERRCODE_DATA_CORRUPTED, "the sealed credential is malformed");
		return NULL;
	}
	clen = blen - NONCE_BYTES - TAG_BYTES;
	plain = palloc(clen + 1);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, k->key, blob) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &n1, (const uint8 *) sealed, HEADER_CHARS - 1) == 1 &&
		EVP_DecryptUpdate(ctx, (uint8 *) plain, &n1, blob + NONCE_BYTES, clen) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, blob + NONCE_BYTES + clen) == 1 &&
		EVP_DecryptFinal_ex(ctx, (uint8 *) plain + n1, &n2) == 1 &&
		n1 + n2 == clen;
	EVP_CIPHER_CTX_free(ctx);
	pfree(blob);
	if (!ok)
	{
		explicit_bzero(plain, clen + 1);
		pfree(plain);
		*error = Failure(ERRCODE_DATA_CORRUPTED,
						 "the sealed credential failed authentication with key %s: it was altered, or sealed "
						 "with another key that has the same id", kid);
		return NULL;
	}
	plain[clen] = '\0';
	*plain_len = clen;
	return plain;
}

/* See credentials.h */
bool
AigwCredentialOpen(const char *sealed, char **plain, char **error)
{
	int			len;

	*plain = NULL;
	*error = NULL;
	if (sealed == NULL)
	{
		*error = pstrdup("no credential");
		return false;
	}
	failure_code = 0;
	*plain = OpenBytes(sealed, strlen(sealed), &len, error);
	if (*plain == NULL)
	{
		/* a key file problem names a server path: the log has it, the attempt (seen by clients) does not */
		if (failure_code == ERRCODE_CONFIG_FILE_ERROR)
		{
			ereport(LOG,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("aigw: platform credentials cannot be opened: %s", *error)));
			*error = pstrdup("platform credentials cannot be opened: the credential key file cannot be used "
							 "(the server log says why)");
		}
		else
			*error = psprintf("platform credentials cannot be opened: %s", *error);
		return false;
	}
	return true;
}

/* What the SQL functions do with each value of a credentials object */
typedef enum CredentialPass
{
	PASS_SEAL,					/* seal plaintext values, keep sealed ones */
	PASS_RESEAL,				/* also re-seal values under an older key */
	PASS_VERIFY					/* authenticate every value, change nothing */
} CredentialPass;

/* Raises the failure of the last key or crypto step for credential name */
static void
RaiseFailure(const char *name, const char *error)
{
	ereport(ERROR,
			(errcode(failure_code ? failure_code : ERRCODE_INTERNAL_ERROR),
			 name ? errmsg("credential \"%s\": %s", name, error) : errmsg("%s", error),
			 failure_code == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ?
			 errhint("Write 32 random bytes to a file readable only by the server (openssl rand -hex 32 > key; "
					 "chmod 600 key), set aigw.credential_key_file to its path and reload.") : 0));
}

/* Handles one string value; returns the value to store */
static char *
PassOne(CredentialPass pass, const char *name, const char *s, int len, int *count)
{
	char	   *error = NULL;
	char	   *out;

	if (IsSealed(s, len))
	{
		int			plen;
		char	   *plain;
		KeySlot    *k;

		if (pass == PASS_SEAL)
		{
			/* a value sealed elsewhere (a copy, a restore): keep it as it is */
			int			maxlen = pg_b64_dec_len(len - HEADER_CHARS);
			uint8	   *tmp = palloc(maxlen + 1);

			if (pg_b64_decode(s + HEADER_CHARS, len - HEADER_CHARS, tmp, maxlen) < NONCE_BYTES + TAG_BYTES)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("credential \"%s\" looks sealed but is malformed", name)));
			pfree(tmp);
			return pnstrdup(s, len);
		}
		if (pass == PASS_RESEAL)
		{
			if ((k = CurrentKey(&error)) == NULL)
				RaiseFailure(name, error);
			if (strncmp(s + sizeof(AIGW_SEALED_PREFIX) - 1, k->kid, KID_CHARS) == 0)
				return pnstrdup(s, len);
		}
		plain = OpenBytes(s, len, &plen, &error);
		if (plain == NULL)
			RaiseFailure(name, error);
		(*count)++;
		if (pass == PASS_VERIFY)
		{
			explicit_bzero(plain, plen);
			return pnstrdup(s, len);
		}
		k = CurrentKey(&error);
		out = k ? SealBytes(plain, plen, k, &error) : NULL;
		explicit_bzero(plain, plen);
		if (out == NULL)
			RaiseFailure(name, error);
		return out;
	}
	if (pass == PASS_VERIFY)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("credential \"%s\" is stored unsealed", name),
				 errhint("aigw.rotate_credentials() seals it.")));
	{
		KeySlot    *k = CurrentKey(&error);

		if (k == NULL)
			ereport(ERROR,
					(errcode(failure_code),
					 errmsg("cannot store platform credentials: %s", error),
					 failure_code == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ?
					 errhint("Write 32 random bytes to a file readable only by the server (openssl rand -hex 32 > key; "
							 "chmod 600 key), set aigw.credential_key_file to its path and reload.") : 0));
		out = SealBytes(s, len, k, &error);
		if (out == NULL)
			RaiseFailure(name, error);
	}
	(*count)++;
	return out;
}

/* Runs a pass over a credentials object; returns the new object or the input when unchanged */
static Jsonb *
CredentialsPass(Jsonb *in, CredentialPass pass, int *count)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbParseState *st = NULL;
	JsonbValue *res = NULL;
	char	   *name = NULL;

	*count = 0;
	if (!JB_ROOT_IS_OBJECT(in) || JB_ROOT_IS_SCALAR(in))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credentials must be a JSON object")));
	it = JsonbIteratorInit(&in->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			name = pnstrdup(v.val.string.val, v.val.string.len);
			res = pushJsonbValue(&st, tok, &v);
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type == jbvString)
			{
				JsonbValue	sv;

				sv.type = jbvString;
				sv.val.string.val = PassOne(pass, name, v.val.string.val, v.val.string.len, count);
				sv.val.string.len = strlen(sv.val.string.val);
				res = pushJsonbValue(&st, tok, &sv);
			}
			else if (v.type == jbvNull)
				res = pushJsonbValue(&st, tok, &v);
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("credential \"%s\" must be a string", name),
						 errdetail("Each credential (an API key, a secret, a token) is sealed on its own.")));
		}
		else
			res = pushJsonbValue(&st, tok, NULL);
	}
	if (pass == PASS_VERIFY || *count == 0)
		return in;
	return JsonbValueToJsonb(res);
}

PG_FUNCTION_INFO_V1(aigw_credentials_seal);

/* aigw.credentials_seal(jsonb): seals every plaintext value; sealed values are kept */
Datum
aigw_credentials_seal(PG_FUNCTION_ARGS)
{
	int			count;

	PG_RETURN_JSONB_P(CredentialsPass(PG_GETARG_JSONB_P(0), PASS_SEAL, &count));
}

PG_FUNCTION_INFO_V1(aigw_credentials_reseal);

/* aigw.credentials_reseal(jsonb): re-seals values of another key under the current key */
Datum
aigw_credentials_reseal(PG_FUNCTION_ARGS)
{
	int			count;

	PG_RETURN_JSONB_P(CredentialsPass(PG_GETARG_JSONB_P(0), PASS_RESEAL, &count));
}

PG_FUNCTION_INFO_V1(aigw_credentials_verify);

/* aigw.credentials_verify(jsonb): authenticates every value; returns how many */
Datum
aigw_credentials_verify(PG_FUNCTION_ARGS)
{
	int			count;

	(void) CredentialsPass(PG_GETARG_JSONB_P(0), PASS_VERIFY, &count);
	PG_RETURN_INT32(count);
}

PG_FUNCTION_INFO_V1(aigw_credential_key_id);

/* aigw.credential_key_id(): the id of aigw.credential_key_file, null when unset */
Datum
aigw_credential_key_id(PG_FUNCTION_ARGS)
{
	char	   *error = NULL;
	KeySlot    *k;

	if (aigw_credential_key_file == NULL || aigw_credential_key_file[0] == '\0')
		PG_RETURN_NULL();
	if ((k = CurrentKey(&error)) == NULL)
		RaiseFailure(NULL, error);
	PG_RETURN_TEXT_P(cstring_to_text(k->kid));
}
