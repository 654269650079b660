/*
 * ssl_compat.c: libaigw-tls.so, which lets Debian 12's civetweb 1.15 use
 * OpenSSL 3. civetweb loads "libssl.so" at run time and looks up the OpenSSL
 * 1.1 function SSL_get_peer_certificate, which OpenSSL 3 only has as a macro
 * for SSL_get1_peer_certificate. This library carries the soname "libssl.so",
 * depends on the real libssl, and defines that one function. aigw-http loads
 * it by path before civetweb starts TLS, so civetweb's dlopen("libssl.so")
 * finds it already loaded and every other symbol resolves in the real libssl.
 */
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#undef SSL_get_peer_certificate

X509	   *SSL_get_peer_certificate(const SSL *s);

/* OpenSSL 1.1's name of SSL_get1_peer_certificate (same reference counting) */
X509 *
SSL_get_peer_certificate(const SSL *s)
{
	return SSL_get1_peer_certificate(s);
}
#endif
