/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the PKCS#11 pieces come from (station/fst-ca-pkcs11.c): modules named
 * through p11-kit's module configs, the libp11 engine in OpenSSL's engines
 * directory. The signing itself runs against SoftHSM2 in
 * tests/integration/ca-pkcs11-test.sh.
 */

#define G_LOG_DOMAIN "FstCaPkcs11Test"

#include <glib/gstdio.h>
#include <string.h>

#include "fst-ca-pkcs11.h"
#include "fst-error.h"
#include "fst-test-skip.h"

typedef struct {
	gchar *dir;
	gchar *user;   /* a config directory searched first */
	gchar *system; /* and one after it */
} FstTestFixture;

static void
fst_test_setup(FstTestFixture *fx, gconstpointer user_data)
{
	(void)user_data;
	fx->dir = g_dir_make_tmp("fst-ca-pkcs11-XXXXXX", NULL);
	fx->user = g_build_filename(fx->dir, "user", NULL);
	fx->system = g_build_filename(fx->dir, "system", NULL);
	g_assert_cmpint(g_mkdir(fx->user, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(fx->system, 0700), ==, 0);
}

static void
fst_test_teardown(FstTestFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->dir);
	(void)user_data;
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->user);
	g_free(fx->system);
	g_free(fx->dir);
}

static void
fst_test_write(const gchar *dir, const gchar *name, const gchar *contents)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) error = NULL;
	g_assert_true(g_file_set_contents(path, contents, -1, &error));
	g_assert_no_error(error);
}

/* the first directory that configures a name wins; comments, other keys and
 * spaces around the colon are p11-kit's format; a relative module is in the
 * module directory */
static void
fst_test_module_config_order(FstTestFixture *fx, gconstpointer user_data)
{
	const gchar *dirs[] = {fx->user, fx->system, NULL};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hsm = NULL;
	g_autofree gchar *card = NULL;

	(void)user_data;
	fst_test_write(fx->user,
	               "hsm.module",
	               "# the line's HSM\n"
	               "priority: 5\n"
	               "module :  /opt/vendor/lib/libvendor-pkcs11.so  \n"
	               "trust-policy: no\n");
	fst_test_write(fx->system, "hsm.module", "module: /usr/lib/other/libother.so\n");
	fst_test_write(fx->system, "card.module", "# relative\nmodule: opensc-pkcs11.so\n");

	hsm = fst_ca_pkcs11_find_module("hsm", dirs, "/usr/lib/test-multiarch/pkcs11", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(hsm, ==, "/opt/vendor/lib/libvendor-pkcs11.so");
	card = fst_ca_pkcs11_find_module("card", dirs, "/usr/lib/test-multiarch/pkcs11", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(card, ==, "/usr/lib/test-multiarch/pkcs11/opensc-pkcs11.so");
}

/* an unknown name, a config without a module line and a name that is a path
 * are refused with what to do */
static void
fst_test_module_config_refused(FstTestFixture *fx, gconstpointer user_data)
{
	const gchar *dirs[] = {fx->user, fx->system, NULL};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	(void)user_data;
	fst_test_write(fx->system, "empty.module", "# nothing\npriority: 1\n");
	fst_test_write(fx->dir, "outside.module", "module: /tmp/evil.so\n");

	path = fst_ca_pkcs11_find_module("absent", dirs, NULL, &error);
	g_assert_null(path);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "no p11-kit module named 'absent'"));
	g_assert_nonnull(strstr(error->message, fx->system));
	g_assert_nonnull(strstr(error->message, "p11-kit list-modules"));
	g_clear_error(&error);

	path = fst_ca_pkcs11_find_module("empty", dirs, NULL, &error);
	g_assert_null(path);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "has no 'module:' line"));
	g_clear_error(&error);

	path = fst_ca_pkcs11_find_module("../outside", dirs, NULL, &error);
	g_assert_null(path);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
}

/* with no directories given, the system's p11-kit configuration: the same
 * module `p11-kit list-modules` names softhsm2 */
static void
fst_test_module_system(void)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *want = NULL;
	g_autofree gchar *got = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = NULL;
	gint status = 0;

	if (!g_spawn_command_line_sync("p11-kit list-modules", &out, NULL, &status, NULL) ||
	    status != 0) {
		fst_test_skip_missing("p11-kit is not installed: apt-get install p11-kit");
		return;
	}
	lines = g_strsplit(out, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "softhsm2: "))
			want = g_strstrip(g_strdup(lines[i] + strlen("softhsm2: ")));
	}
	if (want == NULL) {
		fst_test_skip_missing("p11-kit has no softhsm2 module: apt-get install softhsm2");
		return;
	}
	got = fst_ca_pkcs11_find_module("softhsm2", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got, ==, want);
}

/* the engine is pkcs11.so in $OPENSSL_ENGINES, else in the engines directory
 * `openssl version -e` shows */
static void
fst_test_engine_path(void)
{
	g_autofree gchar *saved = g_strdup(g_getenv("OPENSSL_ENGINES"));
	g_autofree gchar *from_env = NULL;
	g_autofree gchar *from_lib = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *want = NULL;
	gint status = 0;

	g_setenv("OPENSSL_ENGINES", "/opt/test-engines", TRUE);
	from_env = fst_ca_pkcs11_get_engine_path();
	g_assert_cmpstr(from_env, ==, "/opt/test-engines/pkcs11.so");

	g_unsetenv("OPENSSL_ENGINES");
	from_lib = fst_ca_pkcs11_get_engine_path();
	if (saved != NULL)
		g_setenv("OPENSSL_ENGINES", saved, TRUE);
	if (!g_spawn_command_line_sync("openssl version -e", &out, NULL, &status, NULL) ||
	    status != 0) {
		fst_test_skip_missing(
		    "the openssl program is not installed: apt-get install openssl");
		return;
	}
	g_assert_true(g_str_has_prefix(out, "ENGINESDIR: \""));
	g_strstrip(out);
	out[strlen(out) - 1] = '\0';
	want = g_build_filename(out + strlen("ENGINESDIR: \""), "pkcs11.so", NULL);
	g_assert_cmpstr(from_lib, ==, want);
}

/* a key whose URI names a module p11-kit does not know fails on the name,
 * and does not fall back to a module that might hold a token of that name */
static void
fst_test_load_key_unknown_module(void)
{
	g_autoptr(FstSecret) pin = fst_secret_new((const guint8 *)"1234", 4);
	g_autoptr(GError) error = NULL;
	EVP_PKEY *key = fst_ca_pkcs11_load_key(
	    "pkcs11:token=fleet-ca;object=ca-key;type=private?module-name=fst-no-such-module",
	    pin,
	    &error);

	g_assert_null(key);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "no p11-kit module named 'fst-no-such-module'"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/fst/ca/pkcs11/module/first-config-wins",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_module_config_order,
	           fst_test_teardown);
	g_test_add("/fst/ca/pkcs11/module/refused",
	           FstTestFixture,
	           NULL,
	           fst_test_setup,
	           fst_test_module_config_refused,
	           fst_test_teardown);
	g_test_add_func("/fst/ca/pkcs11/module/system-config", fst_test_module_system);
	g_test_add_func("/fst/ca/pkcs11/engine/openssl-engines-dir", fst_test_engine_path);
	g_test_add_func("/fst/ca/pkcs11/load-key/unknown-module-name",
	                fst_test_load_key_unknown_module);
	return fst_test_run_skippable();
}
