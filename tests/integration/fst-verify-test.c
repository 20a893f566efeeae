/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checked by others: every chain the station issues, for every CA key and
 * signature algorithm AWS IoT accepts, verifies with `openssl verify`, GnuTLS
 * `certtool --verify` and mbedTLS (fst-verify-mbedtls, the parser devices
 * run); a device certificate from another CA is refused by all three.
 */

#define G_LOG_DOMAIN "FstVerifyTest"

#include <glib/gstdio.h>
#include <string.h>

#include "fst-ca.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-test-pki.h"

static gchar *fst_test_dir = NULL;

/* runs a command; its exit status, with its output shown in the test log */
static gint
fst_test_run(const gchar **argv_const)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) argv = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *cmd = NULL;
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_strv_builder_addv(builder, argv_const);
	argv = g_strv_builder_end(builder);
	cmd = g_strjoinv(" ", argv);
	if (!g_spawn_sync(NULL,
	                  argv,
	                  NULL,
	                  G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
	                  NULL,
	                  NULL,
	                  &out,
	                  NULL,
	                  &status,
	                  &error))
		g_error("cannot run %s: %s", argv[0], error->message);
	g_test_message("$ %s\n%s", cmd, out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* a root (ECDSA P-256) and an issuing CA of @kind under it, in DIR/<prefix>-{root,issuing}.* */
static FstCa *
fst_test_make_hierarchy(const gchar *prefix, const gchar *kind, gchar **root_path)
{
	g_autofree gchar *root_name = g_strdup_printf("%s-root", prefix);
	g_autofree gchar *issuing_name = g_strdup_printf("%s-issuing", prefix);
	g_autoptr(EVP_PKEY) root_key = fst_test_pki_keygen("ec-p256");
	g_autoptr(EVP_PKEY) issuing_key = fst_test_pki_keygen(kind);
	g_autoptr(X509) root =
	    fst_test_pki_make_ca(fst_test_dir, root_name, root_key, NULL, NULL, 3650);
	g_autoptr(X509) issuing =
	    fst_test_pki_make_ca(fst_test_dir, issuing_name, issuing_key, root, root_key, 1825);

	g_assert_nonnull(issuing);
	*root_path = g_strdup_printf("%s/%s.pem", fst_test_dir, root_name);
	return fst_test_pki_load_ca(fst_test_dir, issuing_name, root_name);
}

/* writes the leaf + the CA's chain (without the root) as PEM to @path */
static void
fst_test_write_chain(FstCa *ca, GBytes *leaf, const gchar *path)
{
	g_autoptr(GPtrArray) chain = fst_ca_get_chain_der(ca);
	g_remove(path);
	g_assert_true(fst_test_pki_write_pem(path, leaf, "CERTIFICATE"));
	for (guint i = 0; i < chain->len; i++)
		g_assert_true(
		    fst_test_pki_write_pem(path, g_ptr_array_index(chain, i), "CERTIFICATE"));
}

/* the three verifiers; each must give @expect_ok */
static void
fst_test_three_verifiers(const gchar *root,
                         const gchar *chain,
                         gboolean expect_ok,
                         gboolean mbedtls)
{
	g_autofree gchar *leaf = g_strdup_printf("%s.leaf", chain);
	g_autofree gchar *untrusted = g_strdup_printf("%s.untrusted", chain);
	g_autofree gchar *contents = NULL;
	const gchar *split;
	const gchar *openssl_argv[] = {"openssl",
	                               "verify",
	                               "-purpose",
	                               "sslclient",
	                               "-x509_strict",
	                               "-CAfile",
	                               root,
	                               "-untrusted",
	                               untrusted,
	                               leaf,
	                               NULL};
	const gchar *certtool_argv[] = {"certtool",
	                                "--verify",
	                                "--verify-purpose=1.3.6.1.5.5.7.3.2",
	                                "--load-ca-certificate",
	                                root,
	                                "--infile",
	                                chain,
	                                NULL};
	const gchar *mbedtls_argv[] = {FST_VERIFY_MBEDTLS, "verify", root, chain, NULL};

	/* openssl verify wants the leaf alone and the rest as untrusted */
	g_assert_true(g_file_get_contents(chain, &contents, NULL, NULL));
	split = strstr(contents + 1, "-----BEGIN CERTIFICATE-----");
	g_assert_nonnull(split);
	g_assert_true(g_file_set_contents(leaf, contents, split - contents, NULL));
	g_assert_true(g_file_set_contents(untrusted, split, -1, NULL));

	if (expect_ok) {
		g_assert_cmpint(fst_test_run(openssl_argv), ==, 0);
		g_assert_cmpint(fst_test_run(certtool_argv), ==, 0);
		if (mbedtls)
			g_assert_cmpint(fst_test_run(mbedtls_argv), ==, 0);
	} else {
		g_assert_cmpint(fst_test_run(openssl_argv), !=, 0);
		g_assert_cmpint(fst_test_run(certtool_argv), !=, 0);
		if (mbedtls)
			g_assert_cmpint(fst_test_run(mbedtls_argv), !=, 0);
	}
}

typedef struct {
	const gchar *ca_kind;
	const gchar *signature;
	const gchar *device_kind;
	gboolean mbedtls; /* mbedTLS has no DSA */
} FstTestChainCase;

static void
fst_test_chains(void)
{
	static const FstTestChainCase cases[] = {
	    {"ec-p256", "", "ec-p256", TRUE},
	    {"ec-p256", "digest=sha384", "ec-p384", TRUE},
	    {"ec-p384", "", "ec-p256", TRUE},
	    {"ec-p521", "", "ec-p521", TRUE},
	    {"rsa-2048", "", "rsa-2048", TRUE},
	    {"rsa-2048", "digest=sha384", "ec-p256", TRUE},
	    {"rsa-2048", "digest=sha512", "rsa-3072", TRUE},
	    {"rsa-2048", "rsa-padding=pss", "ec-p256", TRUE},
	    {"rsa-3072", "digest=sha384\nrsa-padding=pss", "rsa-2048", TRUE},
	    {"dsa-2048", "", "ec-p256", FALSE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *prefix = g_strdup_printf("case%u", i);
		g_autofree gchar *root = NULL;
		g_autofree gchar *chain = g_strdup_printf("%s/%s-chain.pem", fst_test_dir, prefix);
		g_autofree gchar *extra =
		    g_strdup_printf("[validity]\ndays=365\n[signature]\n%s\n[extensions]\nsan-dns={"
		                    "uid}.example.com\n",
		                    cases[i].signature);
		g_autoptr(FstCa) ca = fst_test_make_hierarchy(prefix, cases[i].ca_kind, &root);
		g_autoptr(FstProfile) profile = fst_test_pki_profile(fst_test_dir, prefix, extra);
		g_autoptr(EVP_PKEY) key = fst_test_pki_keygen(cases[i].device_kind);
		g_autoptr(GBytes) csr = fst_test_pki_csr(key, NULL);
		g_autoptr(FstDeviceInfo) info = fst_test_pki_device("D0001", "test-board", 0);
		g_autoptr(GError) error = NULL;
		g_autoptr(FstIssuedCert) issued = NULL;

		g_test_message("CA %s, [signature] %s, device %s",
		               cases[i].ca_kind,
		               cases[i].signature,
		               cases[i].device_kind);
		issued = fst_ca_issue_from_csr(ca, profile, info, csr, &error);
		g_assert_no_error(error);
		fst_test_write_chain(ca, issued->der, chain);
		fst_test_three_verifiers(root, chain, TRUE, cases[i].mbedtls);
	}
}

/* a device certificate from another CA does not verify to ours */
static void
fst_test_rogue(void)
{
	g_autofree gchar *root = NULL;
	g_autofree gchar *rogue_root = NULL;
	g_autofree gchar *chain = g_strdup_printf("%s/rogue-chain.pem", fst_test_dir);
	g_autoptr(FstCa) ca = fst_test_make_hierarchy("ours", "ec-p256", &root);
	g_autoptr(FstCa) rogue = fst_test_make_hierarchy("rogue", "ec-p256", &rogue_root);
	g_autoptr(FstProfile) profile = fst_test_pki_profile(fst_test_dir, "rogue", NULL);
	g_autoptr(EVP_PKEY) key = fst_test_pki_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_pki_csr(key, NULL);
	g_autoptr(FstDeviceInfo) info = fst_test_pki_device("EVIL1", "test-board", 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = fst_ca_issue_from_csr(rogue, profile, info, csr, &error);

	g_assert_no_error(error);
	fst_test_write_chain(rogue, issued->der, chain);
	/* the rogue chain is fine against its own root, and refused against ours */
	fst_test_three_verifiers(rogue_root, chain, TRUE, TRUE);
	fst_test_three_verifiers(root, chain, FALSE, TRUE);
	(void)ca;
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	fst_test_dir = g_dir_make_tmp("fst-verify-XXXXXX", NULL);
	g_assert_nonnull(fst_test_dir);
	g_test_add_func("/fst/verify/chains", fst_test_chains);
	g_test_add_func("/fst/verify/rogue", fst_test_rogue);
	rc = g_test_run();
	fst_test_pki_rmrf(fst_test_dir);
	g_free(fst_test_dir);
	return rc;
}
