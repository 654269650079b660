/*
 * buf.c: growable buffers and the little JSON aigw-http needs to write and read.
 */
#include "front.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Starts an empty buffer with room for cap bytes */
void
buf_init(Buf *b, size_t cap)
{
	b->cap = cap < 64 ? 64 : cap;
	b->data = malloc(b->cap);
	if (!b->data)
		abort();
	b->len = 0;
	b->data[0] = '\0';
}

/* Releases a buffer */
void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Makes room for extra more bytes plus a terminator */
void
buf_reserve(Buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	while (b->len + extra + 1 > b->cap)
		b->cap *= 2;
	b->data = realloc(b->data, b->cap);
	if (!b->data)
		abort();
}

/* Appends n bytes */
void
buf_append(Buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Appends a C string */
void
buf_puts(Buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Appends formatted text */
void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t) n >= b->cap - b->len)
	{
		buf_reserve(b, (size_t) n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t) n;
}

/*
 * Appends s as a JSON string literal. Bytes that are not valid UTF-8 become
 * U+FFFD so that PostgreSQL's jsonb input never rejects what a client sent.
 */
void
buf_json_string(Buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	buf_reserve(b, n + 2);
	b->data[b->len++] = '"';
	while (i < n)
	{
		unsigned char c = p[i];

		if (c == '"' || c == '\\')
		{
			char		esc[2] = {'\\', (char) c};

			buf_append(b, esc, 2);
			i++;
		}
		else if (c < 0x20 || c == 0x7f)
		{
			char		esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			buf_append(b, esc, 6);
			i++;
		}
		else if (c < 0x80)
		{
			buf_append(b, (const char *) &p[i], 1);
			i++;
		}
		else
		{
			int			len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
			bool		ok = len > 0 && i + len <= n;

			for (int k = 1; ok && k < len; k++)
				ok = (p[i + k] & 0xc0) == 0x80;
			if (ok && len == 2 && c < 0xc2)
				ok = false;
			if (ok && len == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0)))
				ok = false;
			if (ok && len == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || c > 0xf4 || (c == 0xf4 && p[i + 1] >= 0x90)))
				ok = false;
			if (ok)
			{
				buf_append(b, (const char *) &p[i], len);
				i += len;
			}
			else
			{
				buf_puts(b, "\\ufffd");
				i++;
			}
		}
	}
	buf_append(b, "\"", 1);
}

/* Skips whitespace */
static const char *
SkipWs(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Returns the end of the JSON string starting at p (a quote), or NULL */
static const char *
SkipString(const char *p)
{
	p++;
	while (*p && *p != '"')
	{
		if (*p == '\\' && p[1])
			p++;
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

/* Returns the end of the JSON value starting at p, or NULL when malformed */
static const char *
SkipValue(const char *p)
{
	int			depth = 0;

	p = SkipWs(p);
	if (*p == '"')
		return SkipString(p);
	if (*p != '{' && *p != '[')
	{
		while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
			p++;
		return p;
	}
	do
	{
		if (*p == '"')
		{
			p = SkipString(p);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		else if (!*p)
			return NULL;
		p++;
	} while (depth > 0);
	return p;
}

/* Finds a top-level key of a JSON object; returns its value's start and length */
const char *
json_find_value(const char *json, const char *key, size_t *len)
{
	const char *p = SkipWs(json);
	size_t		klen = strlen(key);

	if (*p != '{')
		return NULL;
	p = SkipWs(p + 1);
	while (*p == '"')
	{
		const char *kstart = p + 1;
		const char *kend = SkipString(p);
		const char *v,
				   *vend;

		if (!kend)
			return NULL;
		p = SkipWs(kend);
		if (*p != ':')
			return NULL;
		v = SkipWs(p + 1);
		vend = SkipValue(v);
		if (!vend)
			return NULL;
		/* keys aigw reads are plain ASCII without escapes */
		if ((size_t) (kend - 1 - kstart) == klen && memcmp(kstart, key, klen) == 0)
		{
			*len = (size_t) (vend - v);
			return v;
		}
		p = SkipWs(vend);
		if (*p == ',')
			p = SkipWs(p + 1);
		else
			break;
	}
	return NULL;
}

/* Reads a top-level string or scalar value of a JSON object into out (unescaped simply) */
bool
json_get_string(const char *json, const char *key, char *out, size_t outsz)
{
	size_t		len;
	const char *v = json_find_value(json, key, &len);
	size_t		o = 0;

	if (!v || outsz == 0)
		return false;
	if (*v == '"')
	{
		v++;
		len -= 2;
	}
	for (size_t i = 0; i < len && o + 1 < outsz; i++)
	{
		if (v[i] == '\\' && i + 1 < len)
			i++;
		out[o++] = v[i];
	}
	out[o] = '\0';
	return true;
}
