/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstKeyPoolTest"

#include <glib/gstdio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "fst-ca.h"
#include "fst-error.h"
#include "fst-keypool.h"
#include "fst-openssl-common.h"
#include "fst-test-pki.h"

static gchar *fst_test_dir = NULL;
static FstCa *fst_test_ca = NULL;

/* the pool fills in the background; a take is then immediate and each key distinct */
static void
fst_test_pool_fills(void)
{
	g_autoptr(FstKeyPool) pool = fst_key_pool_new(FST_KEY_TYPE_RSA_2048, 2);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) a = NULL;
	g_autoptr(EVP_PKEY) b = NULL;

	/* how fast a take from a ready pool is: tests/bench/fst-bench-keypool.c */
	g_assert_true(fst_key_pool_wait_ready(pool, FST_KEY_TYPE_RSA_2048, 2, 60000));
	g_assert_cmpuint(fst_key_pool_get_ready(pool, FST_KEY_TYPE_RSA_2048), ==, 2);
	a = fst_key_pool_take(pool, FST_KEY_TYPE_RSA_2048, NULL, &error);
	g_assert_no_error(error);
	b = fst_key_pool_take(pool, FST_KEY_TYPE_RSA_2048, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(EVP_PKEY_get_bits(a), ==, 2048);
	g_assert_cmpint(EVP_PKEY_eq(a, b), !=, 1);
	/* and it refills */
	g_assert_true(fst_key_pool_wait_ready(pool, FST_KEY_TYPE_RSA_2048, 1, 60000));
	/* an EC key of a type the pool does not keep is made on the spot */
	{
		g_autoptr(EVP_PKEY) ec =
		    fst_key_pool_take(pool, FST_KEY_TYPE_EC_P384, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(EVP_PKEY_get0_type_name(ec), ==, "EC");
		g_assert_cmpint(EVP_PKEY_get_bits(ec), ==, 384);
	}
	g_assert_null(fst_key_pool_take(pool, FST_KEY_TYPE_NONE, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
}

/* a wait for an RSA key can be cancelled; the pool frees while generating */
static void
fst_test_pool_cancel(void)
{
	g_autoptr(FstKeyPool) pool = fst_key_pool_new(FST_KEY_TYPE_RSA_4096, 1);
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = NULL;

	/* an RSA-4096 key takes a second or more: none is ready this early */
	g_cancellable_cancel(cancellable);
	key = fst_key_pool_take(pool, FST_KEY_TYPE_RSA_4096, cancellable, &error);
	g_assert_null(key);
	g_assert_error(error, FST_ERROR, FST_ERROR_CANCELLED);
}

/* key injection: the certificate is for the key handed out, which escrow can restore */
static void
fst_test_station_key(void)
{
	g_autoptr(EVP_PKEY) escrow_key = fst_test_pki_keygen("rsa-2048");
	g_autoptr(X509) escrow_cert =
	    fst_test_pki_make_ca(fst_test_dir, "escrow", escrow_key, NULL, NULL, 365);
	g_autoptr(FstProfile) plain =
	    fst_test_pki_profile(fst_test_dir, "inject", "[validity]\ndays=30\n");
	g_autoptr(FstDeviceInfo) info = fst_test_pki_device("INJ1", "test-board", 0);
	g_autoptr(FstKeyPool) pool = fst_key_pool_new(FST_KEY_TYPE_RSA_2048, 1);
	static const FstKeyType types[] = {FST_KEY_TYPE_EC_P256, FST_KEY_TYPE_RSA_2048};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *path = g_build_filename(fst_test_dir, "inject.profile", NULL);

	/* a device-csr profile gets no station key */
	{
		g_autoptr(FstSecret) secret = NULL;
		g_autoptr(FstIssuedCert) none = fst_ca_issue_with_station_key(
		    fst_test_ca, plain, info, FST_KEY_TYPE_EC_P256, NULL, &secret, NULL, &error);
		g_assert_null(none);
		g_assert_null(secret);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_clear_error(&error);
	}
	for (guint escrowed = 0; escrowed < 2; escrowed++) {
		g_autoptr(FstProfile) profile = NULL;
		g_autofree gchar *contents = g_strdup_printf(
		    "[profile]\nname=inject\nmodels=test-*\nkey-source=station-generated\n"
		    "key-types=ec-p256;rsa-2048\n%s[subject]\ncn={uid}\no=Fleet Test\n"
		    "[validity]\ndays=30\n",
		    escrowed ? "escrow-certificate=escrow.pem\n" : "");
		g_assert_true(g_file_set_contents(path, contents, -1, NULL));
		profile = fst_profile_load(path, &error);
		g_assert_no_error(error);
		for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
			g_autoptr(FstSecret) secret = NULL;
			g_autoptr(GBytes) escrow = NULL;
			g_autoptr(FstIssuedCert) issued = fst_ca_issue_with_station_key(
			    fst_test_ca, profile, info, types[i], pool, &secret, &escrow, &error);
			g_autoptr(EVP_PKEY) key = NULL;
			g_autoptr(X509) cert = NULL;
			const guint8 *p;
			gsize len = 0;

			g_assert_no_error(error);
			g_assert_nonnull(secret);
			p = g_bytes_get_data(issued->der, &len);
			cert = d2i_X509(NULL, &p, (long)len);
			g_assert_nonnull(cert);
			p = fst_secret_get_data(secret, &len);
			key = d2i_AutoPrivateKey(NULL, &p, (long)len);
			g_assert_nonnull(key);
			g_assert_cmpint(X509_check_private_key(cert, key), ==, 1);
			g_assert_cmpstr(issued->key_type, ==, fst_key_type_to_string(types[i]));
			if (!escrowed) {
				g_assert_null(escrow);
				continue;
			}
			/* only the escrow key opens the envelope, and it holds the same key */
			{
				const guint8 *e = g_bytes_get_data(escrow, &len);
				CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &e, (long)len);
				g_autoptr(BIO) out = BIO_new(BIO_s_mem());
				g_autoptr(EVP_PKEY) other = fst_test_pki_keygen("rsa-2048");
				BUF_MEM *mem = NULL;
				gsize secret_len = 0;
				const guint8 *secret_data =
				    fst_secret_get_data(secret, &secret_len);
				g_assert_nonnull(cms);
				g_autoptr(BIO) junk = BIO_new(BIO_s_mem());
				BUF_MEM *junk_mem = NULL;
				/* a wrong key never yields the escrowed key; CMS_decrypt()
				 * itself may succeed with garbage about once in 256 runs, as
				 * the unwrap uses a random key on failure (no padding oracle)
				 * and the AES-CBC padding of the garbage can still be valid */
				if (CMS_decrypt(cms, other, escrow_cert, NULL, junk, CMS_BINARY) ==
				    1) {
					BIO_get_mem_ptr(junk, &junk_mem);
					g_assert_false(
					    junk_mem->length == secret_len &&
					    memcmp(junk_mem->data, secret_data, secret_len) == 0);
				}
				ERR_clear_error();
				g_assert_cmpint(
				    CMS_decrypt(
				        cms, escrow_key, escrow_cert, NULL, out, CMS_BINARY),
				    ==,
				    1);
				BIO_get_mem_ptr(out, &mem);
				g_assert_cmpmem(mem->data, mem->length, secret_data, secret_len);
				CMS_ContentInfo_free(cms);
			}
		}
	}
	/* a key type the profile does not allow */
	{
		g_autoptr(FstProfile) profile = fst_profile_load(path, &error);
		g_autoptr(FstSecret) secret = NULL;
		g_autoptr(FstIssuedCert) none = NULL;
		g_assert_no_error(error);
		none = fst_ca_issue_with_station_key(
		    fst_test_ca, profile, info, FST_KEY_TYPE_EC_P521, pool, &secret, NULL, &error);
		g_assert_null(none);
		g_assert_null(secret);
		g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	}
	(void)text;
}

int
main(int argc, char **argv)
{
	g_autoptr(EVP_PKEY) ca_key = NULL;
	g_autoptr(X509) ca_cert = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	fst_test_dir = g_dir_make_tmp("fst-keypool-XXXXXX", NULL);
	ca_key = fst_test_pki_keygen("ec-p256");
	ca_cert = fst_test_pki_make_ca(fst_test_dir, "ca", ca_key, NULL, NULL, 365);
	fst_test_ca = fst_test_pki_load_ca(fst_test_dir, "ca", NULL);
	g_test_add_func("/fst/keypool/fills", fst_test_pool_fills);
	g_test_add_func("/fst/keypool/cancel", fst_test_pool_cancel);
	g_test_add_func("/fst/keypool/station-key", fst_test_station_key);
	rc = g_test_run();
	fst_ca_free(fst_test_ca);
	fst_test_pki_rmrf(fst_test_dir);
	g_free(fst_test_dir);
	return rc;
}
