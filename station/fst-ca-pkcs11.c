/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CA keys in a PKCS#11 token (an HSM, a smart card, SoftHSM2), named by an
 * RFC 7512 `pkcs11:` URI. The key never leaves the token: OpenSSL gets a handle
 * (an EVP_PKEY bound to the libp11 ENGINE) and every signature is made by the
 * token.
 *
 * Debian 12 has no PKCS#11 provider for OpenSSL 3, only the libp11 ENGINE
 * (libengine-pkcs11-openssl). The ENGINE API is deprecated in OpenSSL 3.0, so
 * this is the one file built with -Wno-deprecated-declarations. The engine is
 * loaded through ENGINE_by_id("dynamic") and never through openssl.cnf, which
 * with OpenSSL 3.0 + libp11 0.4.12 breaks signing with ordinary file keys.
 *
 * A workspace names a token key with a key "file" that holds the URI instead
 * of a PEM key (e.g. ca/issuing-ca.key = `pkcs11:token=fleet-ca;object=ca-key`).
 * The PIN is never part of what is stored: `pin-value` is refused; the
 * `pin-source` query attribute (a file path, RFC 7512 section 2.4) may name a
 * 0600 file holding it; otherwise the caller passes it (prompt, file, env).
 * The PKCS#11 module is, in this order: the `module-path` query attribute; the
 * `module-name` query attribute looked up in p11-kit's module configuration
 * (`NAME.module` files, as `p11-kit list-modules` shows them); the
 * PKCS11_MODULE_PATH environment variable; p11-kit's proxy module, which
 * loads every configured module. One module per process. The engine itself is
 * `pkcs11.so` in OpenSSL's engines directory ($OPENSSL_ENGINES, else the one
 * libcrypto was built with), never a fixed multiarch path.
 */

#define G_LOG_DOMAIN "FstCaPkcs11"

#include "fst-ca-pkcs11.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <string.h>
#include <unistd.h>

#include "fst-error.h"

#define FST_CA_PKCS11_ENGINE_NAME "pkcs11.so"
/* a key reference file is one URI line */
#define FST_CA_PKCS11_MAX_REF 4096

static GMutex fst_ca_pkcs11_lock;
static ENGINE *fst_ca_pkcs11_engine = NULL; /* (owned): functional reference, kept */
static gchar *fst_ca_pkcs11_module = NULL;  /* (owned) (nullable): the module it was set up with */

/**
 * fst_ca_pkcs11_is_ref:
 * @key_path: a key file path, or a `pkcs11:` URI
 *
 * Returns: %TRUE if @key_path is a `pkcs11:` URI or a file that holds one
 */
gboolean
fst_ca_pkcs11_is_ref(const gchar *key_path)
{
	gchar head[8] = {0};
	gssize n;
	int fd;

	if (key_path == NULL)
		return FALSE;
	if (g_str_has_prefix(key_path, "pkcs11:"))
		return TRUE;
	fd = g_open(key_path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return FALSE;
	n = read(fd, head, 7);
	close(fd);
	return n == 7 && memcmp(head, "pkcs11:", 7) == 0;
}

/* checks one URI: one line, printable, no PIN in it */
static gboolean
fst_ca_pkcs11_check_uri(const gchar *uri, GError **error)
{
	if (!g_str_has_prefix(uri, "pkcs11:") || strlen(uri) > FST_CA_PKCS11_MAX_REF) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "not a PKCS#11 URI (RFC 7512, pkcs11:token=...;object=...)");
		return FALSE;
	}
	for (const gchar *p = uri; *p != '\0'; p++) {
		if (!g_ascii_isgraph(*p)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "PKCS#11 URI has a space or control character: "
			            "percent-encode it (%%20)");
			return FALSE;
		}
	}
	if (strstr(uri, "pin-value=") != NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the PKCS#11 URI holds the PIN (pin-value): remove it and give the "
		            "PIN in a file or at the prompt");
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_ca_pkcs11_read_ref:
 * @key_path: a `pkcs11:` URI, or a file that holds one
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the URI, checked (no PIN in it), or %NULL
 */
gchar *
fst_ca_pkcs11_read_ref(const gchar *key_path, GError **error)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	if (g_str_has_prefix(key_path, "pkcs11:")) {
		contents = g_strdup(key_path);
	} else {
		if (!g_file_get_contents(key_path, &contents, &len, error)) {
			fst_error_convert_gio(error);
			return NULL;
		}
		g_strstrip(contents);
	}
	if (!fst_ca_pkcs11_check_uri(contents, error)) {
		g_prefix_error(error, "%s: ", key_path);
		return NULL;
	}
	return g_steal_pointer(&contents);
}

/* the value of query attribute @name (percent-decoded), or NULL */
static gchar *
fst_ca_pkcs11_query_attr(const gchar *uri, const gchar *name)
{
	const gchar *query = strchr(uri, '?');
	g_auto(GStrv) parts = NULL;

	if (query == NULL)
		return NULL;
	parts = g_strsplit(query + 1, "&", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		gsize n = strlen(name);
		if (strncmp(parts[i], name, n) == 0 && parts[i][n] == '=')
			return g_uri_unescape_string(parts[i] + n + 1, NULL);
	}
	return NULL;
}

/**
 * fst_ca_pkcs11_has_pin_source:
 * @uri: a checked `pkcs11:` URI (fst_ca_pkcs11_read_ref())
 *
 * Whether the URI names its own PIN file (the `pin-source` query attribute),
 * so that fst_ca_pkcs11_load_key() needs no PIN from its caller.
 *
 * Returns: %TRUE if @uri has a `pin-source`
 */
gboolean
fst_ca_pkcs11_has_pin_source(const gchar *uri)
{
	g_autofree gchar *pin_source = fst_ca_pkcs11_query_attr(uri, "pin-source");
	return pin_source != NULL && pin_source[0] != '\0';
}

/**
 * fst_ca_pkcs11_get_engine_path:
 *
 * Where the libp11 engine is: `pkcs11.so` in $OPENSSL_ENGINES when that is set
 * (OpenSSL's own override), else in the engines directory libcrypto reports
 * (OPENSSL_ENGINES_DIR), else in the one pkg-config named at build time.
 *
 * Returns: (transfer full): the engine's path; the file may be missing
 */
gchar *
fst_ca_pkcs11_get_engine_path(void)
{
	const gchar *env = g_getenv("OPENSSL_ENGINES");
	const gchar *version = OpenSSL_version(OPENSSL_ENGINES_DIR);
	const gchar *prefix = "ENGINESDIR: \"";

	if (env != NULL && env[0] != '\0')
		return g_build_filename(env, FST_CA_PKCS11_ENGINE_NAME, NULL);
	/* the form is: ENGINESDIR: "/usr/lib/x86_64-linux-gnu/engines-3" */
	if (version != NULL && g_str_has_prefix(version, prefix)) {
		const gchar *start = version + strlen(prefix);
		const gchar *end = strrchr(start, '"');
		if (end != NULL && end > start) {
			g_autofree gchar *dir = g_strndup(start, (gsize)(end - start));
			return g_build_filename(dir, FST_CA_PKCS11_ENGINE_NAME, NULL);
		}
	}
#ifdef FST_OPENSSL_ENGINESDIR
	return g_build_filename(FST_OPENSSL_ENGINESDIR, FST_CA_PKCS11_ENGINE_NAME, NULL);
#else
	/* a bare name: the dynamic loader's search path */
	return g_strdup(FST_CA_PKCS11_ENGINE_NAME);
#endif
}

/* p11-kit's module config directories, the first one with a name wins: the
 * user's (p11-kit reads it only when not running as root), the system's, the
 * packages' */
static GPtrArray *
fst_ca_pkcs11_p11_kit_config_dirs(void)
{
	GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
	if (getuid() != 0 && geteuid() == getuid() && g_getenv("P11_KIT_NO_USER_CONFIG") == NULL)
		g_ptr_array_add(
		    dirs, g_build_filename(g_get_home_dir(), ".config", "pkcs11", "modules", NULL));
#ifdef FST_P11_KIT_SYSCONFDIR
	g_ptr_array_add(dirs, g_build_filename(FST_P11_KIT_SYSCONFDIR, "pkcs11", "modules", NULL));
#endif
#ifdef FST_P11_KIT_MODULE_CONFIGS
	g_ptr_array_add(dirs, g_strdup(FST_P11_KIT_MODULE_CONFIGS));
#endif
	g_ptr_array_add(dirs, NULL);
	return dirs;
}

/* the value of the `module:` line of a p11-kit module config, or NULL */
static gchar *
fst_ca_pkcs11_module_config_value(const gchar *contents)
{
	g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *line = g_strstrip(lines[i]);
		gchar *colon;
		if (line[0] == '#' || (colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		if (g_strcmp0(g_strstrip(line), "module") == 0) {
			gchar *value = g_strstrip(colon + 1);
			return value[0] != '\0' ? g_strdup(value) : NULL;
		}
	}
	return NULL;
}

/**
 * fst_ca_pkcs11_find_module:
 * @name: a p11-kit module name (`softhsm2`), as a URI's `module-name` gives it
 * @config_dirs: (nullable) (array zero-terminated=1): directories of p11-kit
 *   module configs (`NAME.module`), searched in order; %NULL for p11-kit's own
 * @module_dir: (nullable): where a relative `module:` value is; %NULL for
 *   p11-kit's module directory
 * @error: (nullable): return location
 *
 * Finds a PKCS#11 module the way p11-kit configures it: the `module:` line of
 * the first `NAME.module` file, made absolute against the module directory.
 * Fails with %FST_ERROR_CONFIG for a name that is not a plain file name or a
 * config without a `module:` line, and %FST_ERROR_NOT_FOUND when no directory
 * configures @name.
 *
 * Returns: (transfer full): the module's path, or %NULL with @error set
 */
gchar *
fst_ca_pkcs11_find_module(const gchar *name,
                          const gchar *const *config_dirs,
                          const gchar *module_dir,
                          GError **error)
{
	g_autoptr(GPtrArray) own_dirs = NULL;
	g_autoptr(GString) searched = g_string_new(NULL);
	g_autofree gchar *file = NULL;

	g_return_val_if_fail(name != NULL, NULL);
	if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "PKCS#11 module name '%s' is not a p11-kit module name: give the "
		            "name `p11-kit list-modules` shows (e.g. softhsm2)",
		            name);
		return NULL;
	}
	if (config_dirs == NULL) {
		own_dirs = fst_ca_pkcs11_p11_kit_config_dirs();
		config_dirs = (const gchar *const *)own_dirs->pdata;
	}
	file = g_strdup_printf("%s.module", name);
	for (guint i = 0; config_dirs[i] != NULL; i++) {
		g_autofree gchar *path = g_build_filename(config_dirs[i], file, NULL);
		g_autofree gchar *contents = NULL;
		g_autofree gchar *module = NULL;

		g_string_append_printf(
		    searched, "%s%s", searched->len > 0 ? ", " : "", config_dirs[i]);
		if (!g_file_get_contents(path, &contents, NULL, NULL))
			continue;
		module = fst_ca_pkcs11_module_config_value(contents);
		if (module == NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "p11-kit module config %s has no 'module:' line: name the "
			            "module's library there",
			            path);
			return NULL;
		}
		if (g_path_is_absolute(module))
			return g_steal_pointer(&module);
		if (module_dir == NULL) {
#ifdef FST_P11_KIT_MODULE_PATH
			module_dir = FST_P11_KIT_MODULE_PATH;
#else
			return g_steal_pointer(&module);
#endif
		}
		return g_build_filename(module_dir, module, NULL);
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_FOUND,
	            "no p11-kit module named '%s' (no %s in %s): see `p11-kit list-modules`, "
	            "or give the module's path in module-path or PKCS11_MODULE_PATH",
	            name,
	            file,
	            searched->len > 0 ? searched->str : "no config directory");
	return NULL;
}

/* the module a URI asks for: module-path, module-name, $PKCS11_MODULE_PATH,
 * else p11-kit's proxy (NULL when its path is not known: libp11's default) */
static gboolean
fst_ca_pkcs11_uri_module(const gchar *uri, gchar **module, GError **error)
{
	g_autofree gchar *path = fst_ca_pkcs11_query_attr(uri, "module-path");
	g_autofree gchar *name = fst_ca_pkcs11_query_attr(uri, "module-name");
	const gchar *env = g_getenv("PKCS11_MODULE_PATH");

	if (path != NULL) {
		*module = g_steal_pointer(&path);
		return TRUE;
	}
	if (name != NULL) {
		*module = fst_ca_pkcs11_find_module(name, NULL, NULL, error);
		return *module != NULL;
	}
	if (env != NULL && env[0] != '\0') {
		*module = g_strdup(env);
		return TRUE;
	}
#ifdef FST_P11_KIT_PROXY
	*module = g_strdup(FST_P11_KIT_PROXY);
#else
	*module = NULL;
#endif
	return TRUE;
}

/* loads and initialises the libp11 engine once per process */
static ENGINE *
fst_ca_pkcs11_engine_get(const gchar *module, GError **error)
{
	g_autofree gchar *engine_path = NULL;
	ENGINE *e;

	if (fst_ca_pkcs11_engine != NULL) {
		if (g_strcmp0(module, fst_ca_pkcs11_module) != 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_SUPPORTED,
			            "this process already uses PKCS#11 module %s; one module per "
			            "process",
			            fst_ca_pkcs11_module != NULL ? fst_ca_pkcs11_module
			                                         : "(p11-kit proxy)");
			return NULL;
		}
		return fst_ca_pkcs11_engine;
	}
	engine_path = fst_ca_pkcs11_get_engine_path();
	if (g_path_is_absolute(engine_path) && !g_file_test(engine_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "the PKCS#11 engine %s is missing: apt-get install "
		            "libengine-pkcs11-openssl",
		            engine_path);
		return NULL;
	}
	ENGINE_load_dynamic();
	e = ENGINE_by_id("dynamic");
	if (e == NULL || ENGINE_ctrl_cmd_string(e, "SO_PATH", engine_path, 0) != 1 ||
	    ENGINE_ctrl_cmd_string(e, "ID", "pkcs11", 0) != 1 ||
	    ENGINE_ctrl_cmd_string(e, "LOAD", NULL, 0) != 1 ||
	    (module != NULL && ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0) != 1)) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CA_UNAVAILABLE,
		                      "cannot load the PKCS#11 engine %s",
		                      engine_path);
		if (e != NULL)
			ENGINE_free(e);
		return NULL;
	}
	if (ENGINE_init(e) != 1) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CA_UNAVAILABLE,
		                      "cannot initialise PKCS#11 module %s",
		                      module != NULL ? module : "(p11-kit proxy)");
		ENGINE_free(e);
		return NULL;
	}
	/* keep the functional reference; drop the structural one from ENGINE_by_id */
	ENGINE_free(e);
	fst_ca_pkcs11_engine = e;
	fst_ca_pkcs11_module = g_strdup(module);
	return e;
}

/**
 * fst_ca_pkcs11_load_key:
 * @key_path: a `pkcs11:` URI, or a file that holds one (e.g. ca/issuing-ca.key)
 * @pin: (nullable): the user PIN, when the URI has no `pin-source`
 * @error: (nullable): return location
 *
 * Opens a private key that stays in a PKCS#11 token. The result signs through
 * the token; its private half cannot be read. Fails with
 * %FST_ERROR_CONFIG for a bad URI (or one holding the PIN) and
 * %FST_ERROR_CA_UNAVAILABLE when the engine, module, token, key or PIN is not
 * right.
 *
 * Returns: (transfer full): the key handle, or %NULL with @error set
 */
EVP_PKEY *
fst_ca_pkcs11_load_key(const gchar *key_path, const FstSecret *pin, GError **error)
{
	g_autofree gchar *uri = NULL;
	g_autofree gchar *module = NULL;
	g_autofree gchar *pin_source = NULL;
	g_autofree gchar *base = NULL;
	g_autoptr(FstSecret) pin_file = NULL;
	g_autoptr(GMutexLocker) locker = NULL;
	const FstSecret *the_pin = pin;
	const gchar *query;
	ENGINE *e;
	EVP_PKEY *key;

	uri = fst_ca_pkcs11_read_ref(key_path, error);
	if (uri == NULL)
		return NULL;
	query = strchr(uri, '?');
	base = query != NULL ? g_strndup(uri, (gsize)(query - uri)) : g_strdup(uri);
	if (!fst_ca_pkcs11_uri_module(uri, &module, error)) {
		g_prefix_error(error, "%s: ", key_path);
		return NULL;
	}
	pin_source = fst_ca_pkcs11_query_attr(uri, "pin-source");
	if (pin_source != NULL) {
		const gchar *path =
		    g_str_has_prefix(pin_source, "file:") ? pin_source + 5 : pin_source;
		pin_file = fst_secret_new_from_file(path, error);
		if (pin_file == NULL) {
			g_prefix_error(error, "cannot read the PIN named by %s: ", key_path);
			return NULL;
		}
		the_pin = pin_file;
	}
	if (the_pin == NULL || fst_secret_get_len(the_pin) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "no PIN for the PKCS#11 key %s: give it at the prompt or in a file",
		            base);
		return NULL;
	}

	locker = g_mutex_locker_new(&fst_ca_pkcs11_lock);
	e = fst_ca_pkcs11_engine_get(module, error);
	if (e == NULL)
		return NULL;
	if (ENGINE_ctrl_cmd_string(e, "PIN", fst_secret_get_str(the_pin), 0) != 1) {
		fst_error_set_openssl(error, FST_ERROR_CA_UNAVAILABLE, "cannot pass the PIN");
		return NULL;
	}
	key = ENGINE_load_private_key(e, base, NULL, NULL);
	/* the session stays logged in; libp11 wipes its copy of the PIN when it is replaced */
	if (ENGINE_ctrl_cmd_string(e, "PIN", "", 0) != 1)
		ERR_clear_error();
	if (key == NULL) {
		fst_error_set_openssl(error,
		                      FST_ERROR_CA_UNAVAILABLE,
		                      "cannot open the PKCS#11 key %s (wrong PIN, token or "
		                      "object name?)",
		                      base);
		return NULL;
	}
	g_debug("opened PKCS#11 key %s", base);
	return key;
}
