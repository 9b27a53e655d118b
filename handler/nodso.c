/*
 * nodso.c: OpenSSL's "no shared objects" DSO method, linked into the
 * statically linked programs only (configure --enable-static-binaries).
 *
 * libcrypto's provider code links its DSO layer, whose one method on Linux
 * (DSO_METHOD_openssl in dso_dlfcn.o) calls dlopen().  In a static program
 * dlopen() would load the host's shared libraries, built for a glibc that
 * need not be the one linked in: nothing in a static hookline may call
 * it.  hookline loads no provider or engine module (main.c reads no
 * openssl.cnf), so it loses nothing.  Defining DSO_METHOD_openssl here,
 * in an object that is linked before libcrypto.a, keeps dso_dlfcn.o, the
 * one caller of dlopen() in libcrypto, out of the link, and with it the
 * linker's warning.  The method returned is the one OpenSSL itself uses
 * when built without DSO support (DSO_NONE in crypto/dso/dso_openssl.c):
 * a name and no functions, so that every DSO call fails cleanly with
 * DSO_R_UNSUPPORTED.  (glibc's libc.a still brings its own loader for
 * iconv and NSS modules into every static program, even "hello world";
 * hookline uses neither.)
 */

/* OpenSSL's struct dso_meth_st (crypto/dso/dso_local.h): a name, then
 * function pointers, none of which may be called when NULL.  Room is left
 * for more than the ten that OpenSSL 3.0 has. */
struct nodso_method {
	const char *name;
	void (*fn[16])(void);
};

void *DSO_METHOD_openssl(void);

static struct nodso_method nodso = {
    .name = "NULL shared library method (static hookline)",
};

/* OpenSSL's default DSO method: loads nothing.  Never freed. */
void *
DSO_METHOD_openssl(void)
{
	return &nodso;
}
