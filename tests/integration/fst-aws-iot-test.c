/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAwsIotTest"

#include <curl/curl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fst-aws-iot.h"
#include "fst-db-queue.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-registration.h"

/*
 * The AWS IoT client and the registration worker against a local AWS peer:
 * moto (server mode) behind tests/integration/fst-aws-peer.py, which can
 * throttle, answer 5xx and drop connections. moto is in this machine image's
 * Python, not in Debian: without it the test skips (77).
 *
 * The peer computes certificate ids from the DER as AWS does (moto's
 * default is the PEM text); the station relies on that id after a restart.
 */

static gchar *peer_url = NULL;
static GPid peer_pid = 0;
static EVP_PKEY *test_key = NULL;
static X509 *test_ca = NULL;

/* control of the peer: faults and counters */
static size_t
test_curl_write(gchar *ptr, size_t size, size_t nmemb, void *data)
{
	g_string_append_len((GString *)data, ptr, (gssize)(size * nmemb));
	return size * nmemb;
}

static JsonObject *
test_peer(const gchar *path, const gchar *post)
{
	CURL *curl = curl_easy_init();
	g_autofree gchar *url = g_strdup_printf("%s%s", peer_url, path);
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, test_curl_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	if (post != NULL)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post);
	g_assert_cmpint(curl_easy_perform(curl), ==, CURLE_OK);
	curl_easy_cleanup(curl);
	g_assert_true(json_parser_load_from_data(parser, out->str, -1, &error));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static void
test_peer_faults(const gchar *json)
{
	g_autoptr(JsonObject) obj = test_peer("/__peer/faults", json);
}

static gint64
test_peer_stat(const gchar *name)
{
	g_autoptr(JsonObject) obj = test_peer("/__peer/stats", NULL);
	return json_object_get_int_member(obj, name);
}

static FstAwsIot *
test_client(void)
{
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", peer_url);
	g_autoptr(GError) error = NULL;
	FstAwsIot *iot = fst_aws_iot_new(creds, &error);
	g_assert_no_error(error);
	fst_aws_iot_set_retry(iot, 8, 5, 50);
	return iot;
}

/* a leaf certificate of the test CA with serial @serial */
static gchar *
test_make_cert_pem(guint serial, GBytes **der_out)
{
	/* a key per device: the database refuses one device's key for another */
	g_autoptr(EVP_PKEY) device_key = EVP_EC_gen("P-256");
	g_autoptr(X509) x = X509_new();
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autofree gchar *cn = g_strdup_printf("device-%06u", serial);
	X509_NAME *name = X509_NAME_new();
	guint8 *der = NULL;
	gint der_len;
	BUF_MEM *mem = NULL;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)serial + 0x1000);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guchar *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_NAME_free(name);
	X509_set_issuer_name(x, X509_get_subject_name(test_ca));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 365);
	X509_set_pubkey(x, device_key);
	g_assert_cmpint(X509_sign(x, test_key, EVP_sha256()), >, 0);
	PEM_write_bio_X509(bio, x);
	BIO_get_mem_ptr(bio, &mem);
	if (der_out != NULL) {
		der_len = i2d_X509(x, &der);
		*der_out = g_bytes_new(der, der_len);
		OPENSSL_free(der);
	}
	return g_strndup(mem->data, mem->length);
}

static void
test_iot_operations(void)
{
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = test_make_cert_pem(1, NULL);
	g_autofree gchar *id = fst_aws_certificate_id_from_pem(pem, &error);
	g_autoptr(FstAwsCertificate) cert = NULL;
	g_autoptr(FstAwsCertificate) again = NULL;
	g_autoptr(FstAwsCertificate) desc = NULL;
	g_autoptr(GPtrArray) principals = NULL;
	g_autoptr(GPtrArray) policies = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autofree gchar *thing_arn = NULL;
	g_autofree gchar *endpoint = NULL;
	g_autofree gchar *code = NULL;
	gboolean existed = TRUE;
	gboolean listed = FALSE;

	g_assert_no_error(error);
	cert = fst_aws_iot_register_certificate(iot, pem, NULL, TRUE, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(cert->certificate_id, ==, id);
	g_assert_false(cert->already_registered);
	g_assert_true(g_str_has_suffix(cert->certificate_arn, id));

	/* registered again: not an error, the same certificate */
	again = fst_aws_iot_register_certificate(iot, pem, NULL, TRUE, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(again->already_registered);
	g_assert_cmpstr(again->certificate_arn, ==, cert->certificate_arn);

	g_assert_true(fst_aws_iot_update_certificate(iot, id, "INACTIVE", NULL, &error));
	g_assert_no_error(error);
	desc = fst_aws_iot_describe_certificate(iot, id, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(desc->status, ==, "INACTIVE");
	g_assert_cmpstr(desc->certificate_pem, ==, pem);

	thing_arn = fst_aws_iot_create_thing(iot, "line4-dev_1", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_suffix(thing_arn, "thing/line4-dev_1"));
	g_assert_true(fst_aws_iot_attach_thing_principal(
	    iot, "line4-dev_1", cert->certificate_arn, NULL, &error));
	g_assert_no_error(error);
	principals = fst_aws_iot_list_thing_principals(iot, "line4-dev_1", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(principals->len, ==, 1);
	g_assert_cmpstr(((FstAwsCertificate *)g_ptr_array_index(principals, 0))->certificate_arn,
	                ==,
	                cert->certificate_arn);

	g_assert_true(fst_aws_iot_create_policy(iot,
	                                        "fleet-device",
	                                        "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
	                                        &existed,
	                                        NULL,
	                                        &error));
	g_assert_no_error(error);
	g_assert_false(existed);
	g_assert_true(fst_aws_iot_create_policy(iot,
	                                        "fleet-device",
	                                        "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
	                                        &existed,
	                                        NULL,
	                                        &error));
	g_assert_true(existed);
	g_assert_true(
	    fst_aws_iot_attach_policy(iot, "fleet-device", cert->certificate_arn, NULL, &error));
	g_assert_no_error(error);
	policies = fst_aws_iot_list_attached_policies(iot, cert->certificate_arn, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(policies->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(policies, 0), ==, "fleet-device");

	endpoint = fst_aws_iot_describe_endpoint(iot, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_suffix(endpoint, "-ats.iot.us-east-1.amazonaws.com"));
	code = fst_aws_iot_get_registration_code(iot, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(strlen(code), >, 8);

	certs = fst_aws_iot_list_certificates(iot, NULL, NULL, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < certs->len; i++)
		listed |=
		    g_strcmp0(((FstAwsCertificate *)g_ptr_array_index(certs, i))->certificate_id,
		              id) == 0;
	g_assert_true(listed);
}

/* AWS-issued certificates: from the device's CSR, or with a key AWS makes */
static void
test_iot_aws_issued(void)
{
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GError) error = NULL;
	g_autoptr(X509_REQ) req = X509_REQ_new();
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autoptr(FstAwsCertificate) from_csr = NULL;
	g_autoptr(FstAwsCertificate) with_key = NULL;
	g_autoptr(FstSecret) key = NULL;
	g_autofree gchar *csr_pem = NULL;
	g_autofree gchar *id = NULL;
	X509_NAME *name = X509_NAME_new();
	BUF_MEM *mem = NULL;

	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guchar *)"dev-csr", -1, -1, 0);
	X509_REQ_set_subject_name(req, name);
	X509_NAME_free(name);
	X509_REQ_set_pubkey(req, test_key);
	g_assert_cmpint(X509_REQ_sign(req, test_key, EVP_sha256()), >, 0);
	PEM_write_bio_X509_REQ(bio, req);
	BIO_get_mem_ptr(bio, &mem);
	csr_pem = g_strndup(mem->data, mem->length);

	from_csr = fst_aws_iot_create_certificate_from_csr(iot, csr_pem, TRUE, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(from_csr->certificate_pem, "-----BEGIN CERTIFICATE-----"));
	g_assert_true(g_str_has_suffix(from_csr->certificate_arn, from_csr->certificate_id));

	with_key = fst_aws_iot_create_keys_and_certificate(iot, TRUE, &key, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	g_assert_nonnull(strstr(fst_secret_get_str(key), "PRIVATE KEY"));
	id = fst_aws_certificate_id_from_pem(with_key->certificate_pem, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(id, ==, with_key->certificate_id);

	/* listed from a creation time on: the certificate AWS made then is in,
	 * and nothing older; a microsecond later it is out */
	{
		g_autoptr(FstAwsCertificate) desc =
		    fst_aws_iot_describe_certificate(iot, id, NULL, &error);
		g_autoptr(GPtrArray) from = NULL;
		g_autoptr(GPtrArray) after = NULL;
		gboolean in_from = FALSE;
		gboolean in_after = FALSE;

		g_assert_no_error(error);
		g_assert_cmpint(desc->created, >, G_GINT64_CONSTANT(1600000000) * G_USEC_PER_SEC);
		from = fst_aws_iot_list_certificates_since(iot, desc->created, 100, NULL, &error);
		g_assert_no_error(error);
		after =
		    fst_aws_iot_list_certificates_since(iot, desc->created + 1, 100, NULL, &error);
		g_assert_no_error(error);
		for (guint i = 0; i < from->len; i++) {
			FstAwsCertificate *c = g_ptr_array_index(from, i);
			g_assert_cmpint(c->created, >=, desc->created);
			in_from |= g_strcmp0(c->certificate_id, id) == 0;
		}
		for (guint i = 0; i < after->len; i++) {
			FstAwsCertificate *c = g_ptr_array_index(after, i);
			in_after |= g_strcmp0(c->certificate_id, id) == 0;
		}
		g_assert_true(in_from);
		g_assert_false(in_after);
	}

	/* deleted only once it is not ACTIVE, then gone */
	g_assert_false(fst_aws_iot_delete_certificate(iot, id, NULL, &error));
	g_assert_nonnull(error);
	g_test_message("deleting an ACTIVE certificate: %s", error->message);
	g_clear_error(&error);
	g_assert_true(fst_aws_iot_update_certificate(iot, id, "INACTIVE", NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_aws_iot_delete_certificate(iot, id, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(fst_aws_iot_describe_certificate(iot, id, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
}

static void
test_iot_not_found(void)
{
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCertificate) desc = fst_aws_iot_describe_certificate(
	    iot, "0000000000000000000000000000000000000000000000000000000000000000", NULL, &error);

	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_null(desc);
	g_assert_cmpstr(fst_aws_iot_get_last_error_type(iot), ==, "ResourceNotFoundException");
	g_assert_cmpuint(fst_aws_iot_get_request_count(iot), ==, 1);
}

/* throttling, 5xx and dropped connections are retried; past the attempts,
 * a clear error */
static void
test_iot_retries(void)
{
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ep1 = NULL;
	g_autofree gchar *ep2 = NULL;
	g_autofree gchar *ep3 = NULL;
	g_autofree gchar *ep4 = NULL;
	gint64 dropped;

	test_peer_faults("{\"throttle_next\": 3}");
	ep1 = fst_aws_iot_describe_endpoint(iot, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_aws_iot_get_retry_count(iot), ==, 3);
	g_assert_cmpuint(fst_aws_iot_get_request_count(iot), ==, 4);
	/* a throttled request was not carried out */
	g_assert_cmpuint(fst_aws_iot_get_lost_answer_count(iot), ==, 0);

	/* a dropped connection is retried, by libcurl itself on a reused
	 * connection (no answer byte came), else by the client */
	test_peer_faults("{\"error_next\": 2, \"drop_next\": 1}");
	dropped = test_peer_stat("dropped");
	ep2 = fst_aws_iot_describe_endpoint(iot, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(test_peer_stat("dropped"), ==, dropped + 1);
	g_assert_cmpuint(fst_aws_iot_get_retry_count(iot), >=, 5);
	/* two 5xx and one dropped connection: AWS may have acted on each */
	g_assert_cmpuint(fst_aws_iot_get_lost_answer_count(iot), ==, 3);

	fst_aws_iot_set_retry(iot, 2, 5, 10);
	test_peer_faults("{\"throttle_next\": 2}");
	ep3 = fst_aws_iot_describe_endpoint(iot, NULL, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, "ThrottlingException"));
	g_assert_null(ep3);
	g_clear_error(&error);

	test_peer_faults("{\"error_next\": 2}");
	ep4 = fst_aws_iot_describe_endpoint(iot, NULL, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
	g_assert_cmpstr(fst_aws_iot_get_last_error_type(iot), ==, "ServiceUnavailableException");
	test_peer_faults("{\"throttle_next\": 0, \"error_next\": 0, \"drop_next\": 0}");
}

/* a cancelled call stops in its backoff */
static void
test_iot_cancel(void)
{
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autofree gchar *ep = NULL;

	fst_aws_iot_set_retry(iot, 8, 60000, 60000);
	test_peer_faults("{\"throttle_next\": 1}");
	g_cancellable_cancel(cancellable);
	ep = fst_aws_iot_describe_endpoint(iot, NULL, cancellable, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_CANCELLED);
	test_peer_faults("{\"throttle_next\": 0}");
}

/* the request rate: N requests at R a second take at least (N - 1) / R */
static void
test_iot_rate(void)
{
	g_autoptr(FstAwsIot) iot = test_client();
	gint64 start = g_get_monotonic_time();

	fst_aws_iot_set_rate(iot, 20);
	for (guint i = 0; i < 5; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *ep = fst_aws_iot_describe_endpoint(iot, NULL, NULL, &error);
		g_assert_no_error(error);
	}
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 4 * G_USEC_PER_SEC / 20);
}

/* the registration queue: N certificates recorded with a target, the
 * station killed in the middle of `register push`, pushed again: each is
 * registered exactly once, with its thing and policy */
static void
fst_test_rmrf(const gchar *path)
{
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	const gchar *name;
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		g_unlink(child);
	}
	g_rmdir(path);
}

static gint64
test_sql_int(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gint64 value;
	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

static GPid
test_spawn_push(const gchar *workspace, const gchar *policy_file, gint *out_fd)
{
	const gchar *station = g_getenv("FST_STATION");
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) envp = g_get_environ();
	GPid pid = 0;
	gchar *argv[] = {(gchar *)(guintptr)station,
	                 (gchar *)(guintptr) "register",
	                 (gchar *)(guintptr) "push",
	                 (gchar *)(guintptr) "--workspace",
	                 (gchar *)(guintptr)workspace,
	                 (gchar *)(guintptr) "--thing-name",
	                 (gchar *)(guintptr) "line4-{uid}",
	                 (gchar *)(guintptr) "--policy",
	                 (gchar *)(guintptr) "fleet-line4",
	                 (gchar *)(guintptr) "--policy-file",
	                 (gchar *)(guintptr)policy_file,
	                 (gchar *)(guintptr) "--lease",
	                 (gchar *)(guintptr) "1",
	                 (gchar *)(guintptr) "--json",
	                 NULL};

	envp = g_environ_setenv(envp, "AWS_ENDPOINT_URL", peer_url, TRUE);
	envp = g_environ_setenv(envp, "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", TRUE);
	envp = g_environ_setenv(envp, "AWS_SECRET_ACCESS_KEY", "testing-secret", TRUE);
	envp = g_environ_setenv(envp, "AWS_REGION", "us-east-1", TRUE);
	envp = g_environ_setenv(envp, "AWS_CONFIG_FILE", "/nonexistent", TRUE);
	envp = g_environ_setenv(envp, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", TRUE);
	g_assert_true(g_spawn_async_with_pipes(NULL,
	                                       argv,
	                                       envp,
	                                       G_SPAWN_DO_NOT_REAP_CHILD,
	                                       NULL,
	                                       NULL,
	                                       &pid,
	                                       NULL,
	                                       out_fd,
	                                       NULL,
	                                       &error));
	g_assert_no_error(error);
	return pid;
}

static gint
test_wait(GPid pid)
{
	gint status = 0;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_spawn_close_pid(pid);
	return status;
}

static void
test_register_kill_and_resume(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-reg-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autofree gchar *policy_file = g_build_filename(dir, "policy.json", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GPtrArray) listed = NULL;
	g_autoptr(GHashTable) ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(JsonObject) stats = NULL;
	JsonObject *registered_ids;
	const gchar *n_env = g_getenv("FST_AWS_REGISTER_N");
	guint n = n_env != NULL ? (guint)g_ascii_strtoull(n_env, NULL, 10) : 1000;
	gint64 conflicts_before = test_peer_stat("register_conflict");
	gint64 registered_before = test_peer_stat("register_ok");
	gint64 done = 0;
	gint64 throttled_before = test_peer_stat("throttled");
	gint out_fd = -1;
	GPid pid;
	gint status;

	g_assert_true(
	    g_file_set_contents(policy_file,
	                        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
	                        "\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}",
	                        -1,
	                        NULL));
	/* the certificates enter the queue as they are recorded */
	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < n; i++) {
		g_autoptr(GBytes) der = NULL;
		g_autofree gchar *pem = test_make_cert_pem(10000 + i, &der);
		g_autofree gchar *uid = g_strdup_printf("SN%06u", i);
		g_autofree gchar *serial = g_strdup_printf("%X", 10000 + i + 0x1000);
		FstDeviceInfo info = {.uid = uid, .model = (gchar *)(guintptr) "test"};
		FstDbCert cert = {.serial_hex = serial,
		                  .der = der,
		                  .subject = (gchar *)(guintptr) "CN=device",
		                  .key_type = (gchar *)(guintptr) "ec-p256",
		                  .not_before = 0,
		                  .not_after = G_MAXINT32,
		                  .register_target = (gchar *)(guintptr) "aws-iot:us-east-1"};
		gint64 device_id = fst_db_begin_device(db, 0, &info, NULL, &error);
		g_assert_no_error(error);
		g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
		g_assert_no_error(error);
		g_hash_table_insert(ids, fst_aws_certificate_id_from_pem(pem, NULL), g_strdup(uid));
	}
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM registrations WHERE action = 'register' "
	                             "AND state = 'pending' AND target = 'aws-iot:us-east-1'"),
	                ==,
	                n);

	/* 10% of the answers throttled; SIGKILL half-way */
	test_peer_faults("{\"throttle_rate\": 0.1, \"seed\": 7}");
	pid = test_spawn_push(dir, policy_file, NULL);
	while (done < n / 2) {
		g_usleep(20000);
		done = test_sql_int(db_path,
		                    "SELECT count(*) FROM registrations WHERE state = 'done'");
	}
	kill(pid, SIGKILL);
	status = test_wait(pid);
	g_assert_true(WIFSIGNALED(status));
	g_test_message(
	    "killed after %" G_GINT64_FORMAT " of %u; %" G_GINT64_FORMAT " in progress",
	    done,
	    n,
	    test_sql_int(db_path,
	                 "SELECT count(*) FROM registrations WHERE state = 'in-progress'"));
	g_assert_cmpint(done, <, n);

	/* the lease of a row the killed run held ends, then push again */
	g_usleep(1500000);
	pid = test_spawn_push(dir, policy_file, &out_fd);
	{
		g_autoptr(GString) out = g_string_new(NULL);
		gchar buf[4096];
		gssize got;
		while ((got = read(out_fd, buf, sizeof(buf))) > 0)
			g_string_append_len(out, buf, got);
		close(out_fd);
		g_test_message("second push: %s", out->str);
	}
	status = test_wait(pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	test_peer_faults("{\"throttle_rate\": 0.0}");

	/* the queue: every row done, with the ARN */
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM registrations WHERE state = 'done' AND "
	                             "remote_id LIKE 'arn:aws:iot:us-east-1:%:cert/%'"),
	                ==,
	                n);
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM registrations r JOIN certificates c ON "
	                             "c.id = r.certificate_id WHERE r.remote_id NOT LIKE '%' || "
	                             "c.aws_cert_id"),
	                ==,
	                0);
	/* the peer: each certificate registered once, never refused as a duplicate */
	stats = test_peer("/__peer/stats", NULL);
	g_assert_cmpint(
	    json_object_get_int_member(stats, "register_ok") - registered_before, ==, n);
	g_assert_cmpint(
	    json_object_get_int_member(stats, "register_conflict") - conflicts_before, ==, 0);
	g_assert_cmpint(
	    json_object_get_int_member(stats, "throttled") - throttled_before, >, n / 10);
	registered_ids = json_object_get_object_member(stats, "registered_ids");
	{
		GHashTableIter iter;
		gpointer key, value;
		g_hash_table_iter_init(&iter, ids);
		while (g_hash_table_iter_next(&iter, &key, &value)) {
			g_autofree gchar *thing = g_strdup_printf("line4-%s", (const gchar *)value);
			g_autoptr(GPtrArray) principals = NULL;
			g_autoptr(GPtrArray) policies = NULL;
			g_autofree gchar *arn = NULL;

			g_assert_cmpint(
			    json_object_get_int_member_with_default(registered_ids, key, 0), ==, 1);
			principals = fst_aws_iot_list_thing_principals(iot, thing, NULL, &error);
			g_assert_no_error(error);
			g_assert_cmpuint(principals->len, ==, 1);
			arn = g_strdup(((FstAwsCertificate *)g_ptr_array_index(principals, 0))
			                   ->certificate_arn);
			g_assert_true(g_str_has_suffix(arn, key));
			policies = fst_aws_iot_list_attached_policies(iot, arn, NULL, &error);
			g_assert_no_error(error);
			g_assert_cmpuint(policies->len, ==, 1);
			g_assert_cmpstr(g_ptr_array_index(policies, 0), ==, "fleet-line4");
		}
	}
	/* AWS lists them all (pages of 250) */
	listed = fst_aws_iot_list_certificates(iot, NULL, NULL, &error);
	g_assert_no_error(error);
	{
		guint found = 0;
		for (guint i = 0; i < listed->len; i++) {
			FstAwsCertificate *c = g_ptr_array_index(listed, i);
			if (g_hash_table_contains(ids, c->certificate_id))
				found++;
		}
		g_assert_cmpuint(found, ==, n);
	}
	/* every state-changing call is an audit event of its device */
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(DISTINCT device_id) FROM events WHERE step = "
	                             "'aws-attach-policy' AND outcome = 'ok'"),
	                ==,
	                n);
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(DISTINCT device_id) FROM events WHERE step = "
	                             "'aws-register-certificate' AND outcome IN ('ok', "
	                             "'already-registered', 'found-registered')"),
	                ==,
	                n);
	g_clear_pointer(&db, fst_db_close);
	fst_test_rmrf(dir);
}

/* ca register-aws: code fetched, verification certificate made by the CA,
 * RegisterCACertificate; ListCACertificates shows it */
static void
test_register_ca(void)
{
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) ca = X509_new();
	g_autoptr(FstAwsCertificate) reg = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	guint8 md[32];
	guint md_len = 0;
	g_autoptr(GString) id = g_string_new(NULL);
	gboolean listed = FALSE;

	X509_set_version(ca, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(ca), 42);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guchar *)"Line CA", -1, -1, 0);
	X509_set_subject_name(ca, name);
	X509_set_issuer_name(ca, name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(ca), -3600);
	X509_gmtime_adj(X509_getm_notAfter(ca), 86400 * 365);
	X509_set_pubkey(ca, test_key);
	X509V3_set_ctx(&ctx, ca, ca, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	g_assert_cmpint(X509_sign(ca, test_key, EVP_sha256()), >, 0);
	X509_digest(ca, EVP_sha256(), md, &md_len);
	for (guint i = 0; i < md_len; i++)
		g_string_append_printf(id, "%02x", md[i]);

	/* moto's registration code is a UUID, AWS's 64 hex digits: give one */
	reg = fst_registration_register_ca(
	    iot,
	    ca,
	    test_key,
	    "3c2f1e0d9b8a7f6e5d4c3b2a190807f6e5d4c3b2a19080706f5e4d3c2b1a0f9e",
	    FALSE,
	    NULL,
	    NULL,
	    NULL,
	    &error);
	g_assert_no_error(error);
	g_assert_cmpstr(reg->certificate_id, ==, id->str);
	g_assert_true(g_str_has_suffix(reg->certificate_arn, id->str));
	cas = fst_aws_iot_list_ca_certificates(iot, NULL, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < cas->len; i++)
		listed |=
		    g_strcmp0(((FstAwsCertificate *)g_ptr_array_index(cas, i))->certificate_id,
		              id->str) == 0;
	g_assert_true(listed);
	g_assert_true(fst_aws_iot_update_ca_certificate(iot, id->str, "INACTIVE", NULL, &error));
	g_assert_no_error(error);
}

static void
test_sql_exec(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
}

/* a run registered the certificate and was killed before it recorded that:
 * the next run asks AWS (DescribeCertificate) and does not register again */
static void
test_register_resumed_asks_first(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-res-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(FstAwsIot) iot2 = test_client();
	g_autoptr(FstRegistration) worker = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autoptr(FstAwsCertificate) first = NULL;
	g_autofree gchar *pem = test_make_cert_pem(777, &der);
	g_autofree gchar *serial = g_strdup_printf("%X", 777 + 0x1000);
	FstDeviceInfo info = {.uid = (gchar *)(guintptr) "SN-RESUMED",
	                      .model = (gchar *)(guintptr) "t"};
	FstDbCert cert = {.serial_hex = serial,
	                  .der = der,
	                  .key_type = (gchar *)(guintptr) "ec-p256",
	                  .not_after = G_MAXINT32,
	                  .register_target = (gchar *)(guintptr) "aws-iot:us-east-1"};
	FstRegistrationConfig config = {.policy_name = "fleet-resumed",
	                                .policy_document =
	                                    "{\"Version\":\"2012-10-17\",\"Statement\":[]}"};
	FstRegistrationStats stats = {0};
	gint64 device_id;
	gint64 conflicts, registered, described;

	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	device_id = fst_db_begin_device(db, 0, &info, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
	g_assert_no_error(error);

	/* the killed run: AWS has it, the row is in progress, its lease over */
	first = fst_aws_iot_register_certificate(iot, pem, NULL, TRUE, NULL, &error);
	g_assert_no_error(error);
	test_sql_exec(db_path,
	              "UPDATE registrations SET state = 'in-progress', attempts = 1, "
	              "next_attempt_at = 1");
	conflicts = test_peer_stat("register_conflict");
	registered = test_peer_stat("register_ok");
	described = test_peer_stat("describe");

	worker = fst_registration_new(db_path, iot2, &config, &error);
	g_assert_no_error(error);
	g_assert_true(fst_registration_push(worker, NULL, &error));
	g_assert_no_error(error);
	fst_registration_get_stats(worker, &stats);
	g_assert_cmpuint(stats.registered, ==, 1);
	g_assert_cmpuint(stats.found, ==, 1);
	g_assert_cmpint(test_peer_stat("register_conflict"), ==, conflicts);
	g_assert_cmpint(test_peer_stat("register_ok"), ==, registered);
	g_assert_cmpint(test_peer_stat("describe"), ==, described + 1);
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM events WHERE step = "
	                             "'aws-register-certificate' AND outcome = 'found-registered'"),
	                ==,
	                1);
	g_assert_cmpint(
	    test_sql_int(db_path,
	                 "SELECT count(*) FROM registrations WHERE state = 'done' AND "
	                 "remote_id LIKE '%:cert/' || (SELECT aws_cert_id FROM certificates)"),
	    ==,
	    1);
	g_assert_cmpint(
	    test_sql_int(db_path, "SELECT count(*) FROM events WHERE step = 'aws-attach-policy'"),
	    ==,
	    1);
	/* superseded: the deactivate row the database queues sets it INACTIVE */
	test_sql_exec(
	    db_path,
	    "INSERT INTO registrations (certificate_id, target, action, state, attempts, "
	    "created_at, updated_at) SELECT id, '*', 'deactivate', 'pending', 0, 1, 1 FROM "
	    "certificates");
	g_assert_true(fst_registration_push(worker, NULL, &error));
	g_assert_no_error(error);
	fst_registration_get_stats(worker, &stats);
	g_assert_cmpuint(stats.deactivated, ==, 1);
	{
		g_autoptr(FstAwsCertificate) desc =
		    fst_aws_iot_describe_certificate(iot, first->certificate_id, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(desc->status, ==, "INACTIVE");
	}
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM events WHERE step = "
	                             "'aws-deactivate-certificate' AND outcome = 'ok'"),
	                ==,
	                1);
	g_clear_object(&worker);
	g_clear_pointer(&db, fst_db_close);
	fst_test_rmrf(dir);
}

/* bulk registration: the parameter file uploaded to S3, the task started,
 * polled, its reports fetched and reconciled; a certificate AWS refuses
 * (registered already) is failed with AWS's reason */
static void
test_register_bulk_task(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-bulk-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autofree gchar *params_path = g_build_filename(dir, "L-9-params.jsonl", NULL);
	g_autofree gchar *params = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(GBytes) uploaded = NULL;
	g_autoptr(GPtrArray) pems = g_ptr_array_new_with_free_func(g_free);
	guint n_ok = 0, n_failed = 0;

	test_peer_faults("{}");
	g_autoptr(JsonObject) made =
	    test_peer("/__peer/create-bucket", "{\"name\": \"fleet-bulk\"}");
	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_set_context(db, "op", "L-9", &error));
	for (guint i = 0; i < 3; i++) {
		g_autoptr(GBytes) der = NULL;
		g_autofree gchar *uid = g_strdup_printf("BULK-%u", i);
		g_autofree gchar *serial = g_strdup_printf("%X", 5000 + i + 0x1000);
		FstDeviceInfo info = {.uid = uid, .model = (gchar *)(guintptr) "t"};
		FstDbCert cert = {.serial_hex = serial,
		                  .key_type = (gchar *)(guintptr) "ec-p256",
		                  .not_after = G_MAXINT32,
		                  .register_target = (gchar *)(guintptr) "aws-iot:us-east-1"};
		gint64 device_id;
		g_ptr_array_add(pems, test_make_cert_pem(5000 + i, &der));
		cert.der = der;
		device_id = fst_db_begin_device(db, 0, &info, NULL, &error);
		g_assert_no_error(error);
		g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
		g_assert_no_error(error);
	}
	/* the third one AWS has already: the task refuses it */
	{
		g_autoptr(FstAwsCertificate) c = fst_aws_iot_register_certificate(
		    iot, g_ptr_array_index(pems, 2), NULL, TRUE, NULL, &error);
		g_assert_no_error(error);
	}
	g_assert_true(fst_aws_iot_create_policy(iot,
	                                        "fleet-bulk",
	                                        "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
	                                        NULL,
	                                        NULL,
	                                        &error));
	if (!fst_registration_bulk_register(db_path,
	                                    iot,
	                                    "L-9",
	                                    "bulk-{uid}",
	                                    "fleet-bulk",
	                                    dir,
	                                    "fleet-bulk",
	                                    "arn:aws:iam::123456789012:role/bulk",
	                                    20000,
	                                    &n_ok,
	                                    &n_failed,
	                                    NULL,
	                                    &error))
		g_assert_no_error(error);
	g_assert_cmpuint(n_ok, ==, 2);
	g_assert_cmpuint(n_failed, ==, 1);

	/* S3 has the file as written */
	uploaded = fst_aws_iot_s3_get_object(
	    iot, "fleet-bulk", "fleetstation/L-9-params.jsonl", NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(params_path, &params, NULL, NULL));
	g_assert_cmpuint(g_bytes_get_size(uploaded), ==, strlen(params));
	g_assert_cmpmem(
	    g_bytes_get_data(uploaded, NULL), g_bytes_get_size(uploaded), params, strlen(params));

	/* the database reconciled, the things and policies there */
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM registrations r JOIN certificates c ON "
	                             "c.id = r.certificate_id WHERE r.state = 'done' AND "
	                             "r.remote_id LIKE '%:cert/' || c.aws_cert_id"),
	                ==,
	                2);
	g_assert_cmpint(
	    test_sql_int(db_path,
	                 "SELECT count(*) FROM registrations WHERE state = 'failed' AND "
	                 "last_error LIKE '%ResourceAlreadyExists%'"),
	    ==,
	    1);
	g_assert_cmpint(
	    test_sql_int(db_path,
	                 "SELECT count(*) FROM events WHERE step IN ('aws-s3-put-object', "
	                 "'aws-start-thing-registration-task')"),
	    ==,
	    2);
	for (guint i = 0; i < 2; i++) {
		g_autofree gchar *thing = g_strdup_printf("bulk-BULK-%u", i);
		g_autoptr(GPtrArray) principals =
		    fst_aws_iot_list_thing_principals(iot, thing, NULL, &error);
		g_autoptr(GPtrArray) policies = NULL;
		g_assert_no_error(error);
		g_assert_cmpuint(principals->len, ==, 1);
		policies = fst_aws_iot_list_attached_policies(
		    iot,
		    ((FstAwsCertificate *)g_ptr_array_index(principals, 0))->certificate_arn,
		    NULL,
		    &error);
		g_assert_no_error(error);
		g_assert_cmpuint(policies->len, ==, 1);
	}
	g_clear_pointer(&db, fst_db_close);
	fst_test_rmrf(dir);
}

/* a started worker drains the queue in the background and stops on demand */
/* a device and its certificate with serial @n, queued for AWS IoT in
 * us-east-1; returns the certificate's PEM, and its serial in @serial_out */
static gchar *
test_add_registering_cert(FstDb *db, const gchar *prefix, guint n, gchar **serial_out)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autofree gchar *pem = test_make_cert_pem(n, &der);
	g_autofree gchar *serial = g_strdup_printf("%X", n + 0x1000);
	g_autofree gchar *uid = g_strdup_printf("%s-%u", prefix, n);
	FstDeviceInfo info = {.uid = uid, .model = (gchar *)(guintptr) "t"};
	FstDbCert cert = {.serial_hex = serial,
	                  .der = der,
	                  .key_type = (gchar *)(guintptr) "ec-p256",
	                  .not_after = G_MAXINT32,
	                  .register_target = (gchar *)(guintptr) "aws-iot:us-east-1"};
	gint64 device_id = fst_db_begin_device(db, 0, &info, NULL, &error);

	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
	g_assert_no_error(error);
	if (serial_out != NULL)
		*serial_out = g_steal_pointer(&serial);
	return g_steal_pointer(&pem);
}

static void
test_register_background(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-bg-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(FstRegistration) worker = NULL;
	FstRegistrationConfig config = {.thing_name_template = "bg-{serial}", .poll_us = 20000};
	FstRegistrationStats stats = {0};

	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	worker = fst_registration_new(db_path, iot, &config, &error);
	g_assert_no_error(error);
	g_assert_true(fst_registration_start(worker, &error));
	g_assert_no_error(error);
	/* certificates recorded while it runs */
	for (guint i = 0; i < 5; i++) {
		g_autofree gchar *pem = test_add_registering_cert(db, "BG", 900 + i, NULL);
	}
	for (guint i = 0; i < 500; i++) {
		fst_registration_get_stats(worker, &stats);
		if (stats.registered == 5)
			break;
		g_usleep(20000);
	}
	fst_registration_stop(worker);
	g_assert_cmpuint(stats.registered, ==, 5);
	g_assert_cmpint(
	    test_sql_int(db_path, "SELECT count(*) FROM registrations WHERE state = 'done'"),
	    ==,
	    5);
	g_clear_object(&worker);
	g_clear_pointer(&db, fst_db_close);
	fst_test_rmrf(dir);
}

/* a certificate revoked once AWS has it is revoked there (a `revoke` row); one revoked
 * while its row still waits (the device failed after issue) never gets there */
static void
test_register_revoked(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-rev-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAwsIot) iot = test_client();
	g_autoptr(FstRegistration) worker = NULL;
	g_autofree gchar *registered_id = NULL;
	g_autofree gchar *waiting_id = NULL;
	FstRegistrationConfig config = {.thing_name_template = "rev-{serial}"};
	FstRegistrationStats stats = {0};
	gint64 register_ok;

	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	worker = fst_registration_new(db_path, iot, &config, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 2; i++) {
		g_autofree gchar *serial = NULL;
		g_autofree gchar *pem = test_add_registering_cert(db, "REV", 950 + i, &serial);
		if (i == 0) {
			/* registered, then revoked */
			registered_id = fst_aws_certificate_id_from_pem(pem, NULL);
			g_assert_true(fst_registration_push(worker, NULL, &error));
			g_assert_no_error(error);
			g_assert_true(
			    fst_db_revoke_certificate(db, serial, "keyCompromise", &error));
			g_assert_no_error(error);
		} else {
			/* revoked before the worker came to it */
			waiting_id = fst_aws_certificate_id_from_pem(pem, NULL);
			g_assert_true(
			    fst_db_revoke_certificate(db, serial, "cessationOfOperation", &error));
			g_assert_no_error(error);
		}
	}
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM registrations WHERE action = "
	                             "'revoke' AND state = 'pending'"),
	                ==,
	                2);
	register_ok = test_peer_stat("register_ok");
	g_assert_true(fst_registration_push(worker, NULL, &error));
	g_assert_no_error(error);
	fst_registration_get_stats(worker, &stats);
	g_assert_cmpuint(stats.registered, ==, 1);
	g_assert_cmpuint(stats.revoked, ==, 1);
	g_assert_cmpint(test_peer_stat("register_ok"), ==, register_ok);
	{
		g_autoptr(FstAwsCertificate) desc =
		    fst_aws_iot_describe_certificate(iot, registered_id, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(desc->status, ==, "REVOKED");
	}
	{
		g_autoptr(FstAwsCertificate) desc =
		    fst_aws_iot_describe_certificate(iot, waiting_id, NULL, &error);
		g_assert_null(desc);
		g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
		g_clear_error(&error);
	}
	/* every row done; the skipped one without an AWS id, and audited */
	g_assert_cmpint(
	    test_sql_int(db_path, "SELECT count(*) FROM registrations WHERE state != 'done'"),
	    ==,
	    0);
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM registrations WHERE action = "
	                             "'register' AND remote_id IS NULL"),
	                ==,
	                1);
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM events WHERE step = "
	                             "'aws-register-certificate' AND outcome = 'skipped-revoked'"),
	                ==,
	                1);
	g_clear_object(&worker);
	g_clear_pointer(&db, fst_db_close);
	fst_test_rmrf(dir);
}

/* starts the peer (with TLS in front if @tls_cert is given): its port, or
 * NULL when moto is missing */
static gchar *
test_spawn_peer(const gchar *tls_cert, const gchar *tls_key, GPid *pid)
{
	const gchar *python = g_getenv("FST_MOTO_PYTHON");
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-peer-XXXXXX", NULL);
	g_autofree gchar *port_file = g_build_filename(dir, "port", NULL);
	g_autoptr(GError) error = NULL;
	gchar *argv[] = {(gchar *)(guintptr)(python != NULL ? python : "python3"),
	                 (gchar *)(guintptr)FST_AWS_PEER,
	                 port_file,
	                 tls_cert != NULL ? (gchar *)(guintptr) "--tls" : NULL,
	                 (gchar *)(guintptr)tls_cert,
	                 (gchar *)(guintptr)tls_key,
	                 NULL};
	gchar *port = NULL;

	g_assert_true(g_spawn_async(NULL,
	                            argv,
	                            NULL,
	                            G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
	                                G_SPAWN_STDOUT_TO_DEV_NULL,
	                            NULL,
	                            NULL,
	                            pid,
	                            &error));
	for (guint i = 0; i < 600; i++) {
		gint status = 0;
		if (g_file_get_contents(port_file, &port, NULL, NULL))
			break;
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			g_printerr("the AWS peer (moto) did not start%s\n",
			           WIFEXITED(status) && WEXITSTATUS(status) == 77
			               ? ": moto is not installed in this Python (not in Debian); "
			                 "set FST_MOTO_PYTHON to one that has it"
			               : "");
			*pid = 0;
			return NULL;
		}
		g_usleep(100000);
	}
	g_assert_nonnull(port);
	g_unlink(port_file);
	g_rmdir(dir);
	return port;
}

static gboolean
test_start_peer(void)
{
	g_autofree gchar *port = test_spawn_peer(NULL, NULL, &peer_pid);
	if (port == NULL)
		return FALSE;
	peer_url = g_strdup_printf("http://127.0.0.1:%s", port);
	return TRUE;
}

/* HTTPS through a TLS terminator: trusted through AWS_CA_BUNDLE, refused
 * (without retries) when its certificate is not trusted */
static void
test_iot_tls(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-tls-XXXXXX", NULL);
	g_autofree gchar *cert_path = g_build_filename(dir, "peer.pem", NULL);
	g_autofree gchar *key_path = g_build_filename(dir, "peer.key", NULL);
	g_autofree gchar *port = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *ep = NULL;
	g_autofree gchar *ep2 = NULL;
	g_autoptr(X509) x = X509_new();
	g_autoptr(BIO) cb = BIO_new_file(cert_path, "w");
	g_autoptr(BIO) kb = NULL;
	g_autoptr(FstAwsCredentials) creds = NULL;
	g_autoptr(FstAwsIot) trusted = NULL;
	g_autoptr(FstAwsIot) untrusted = NULL;
	g_autoptr(GError) error = NULL;
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	GPid pid = 0;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(
	    name, "CN", MBSTRING_ASC, (const guchar *)"127.0.0.1", -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, test_key);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	g_assert_cmpint(X509_sign(x, test_key, EVP_sha256()), >, 0);
	PEM_write_bio_X509(cb, x);
	g_clear_pointer(&cb, BIO_free);
	kb = BIO_new_file(key_path, "w");
	PEM_write_bio_PrivateKey(kb, test_key, NULL, NULL, 0, NULL, NULL);
	g_clear_pointer(&kb, BIO_free);

	port = test_spawn_peer(cert_path, key_path, &pid);
	g_assert_nonnull(port);
	url = g_strdup_printf("https://127.0.0.1:%s", port);
	creds = fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", url);

	g_setenv("AWS_CA_BUNDLE", cert_path, TRUE);
	trusted = fst_aws_iot_new(creds, &error);
	g_assert_no_error(error);
	ep = fst_aws_iot_describe_endpoint(trusted, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ep);

	g_setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt", TRUE);
	untrusted = fst_aws_iot_new(creds, &error);
	g_assert_no_error(error);
	ep2 = fst_aws_iot_describe_endpoint(untrusted, NULL, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_cmpuint(fst_aws_iot_get_request_count(untrusted), ==, 1);
	g_unsetenv("AWS_CA_BUNDLE");

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	g_unlink(cert_path);
	g_unlink(key_path);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_autoptr(EVP_PKEY_CTX) kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	X509_NAME *name;
	gint rc;

	g_test_init(&argc, &argv, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!test_start_peer())
		return 77;

	/* one P-256 key for the CA and every leaf: the ids differ by serial */
	EVP_PKEY_keygen_init(kctx);
	EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1);
	EVP_PKEY_keygen(kctx, &test_key);
	test_ca = X509_new();
	name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guchar *)"Test CA", -1, -1, 0);
	X509_set_subject_name(test_ca, name);
	X509_NAME_free(name);

	g_test_add_func("/fst/aws/iot/operations", test_iot_operations);
	g_test_add_func("/fst/aws/iot/not-found", test_iot_not_found);
	g_test_add_func("/fst/aws/iot/aws-issued", test_iot_aws_issued);
	g_test_add_func("/fst/aws/iot/retries", test_iot_retries);
	g_test_add_func("/fst/aws/iot/cancel", test_iot_cancel);
	g_test_add_func("/fst/aws/iot/request-rate", test_iot_rate);
	g_test_add_func("/fst/aws/iot/register-ca", test_register_ca);
	g_test_add_func("/fst/aws/iot/tls", test_iot_tls);
	g_test_add_func("/fst/aws/register/resumed-row-asks-aws-first",
	                test_register_resumed_asks_first);
	g_test_add_func("/fst/aws/register/background-worker", test_register_background);
	g_test_add_func("/fst/aws/register/revoked", test_register_revoked);
	g_test_add_func("/fst/aws/register/bulk-task", test_register_bulk_task);
	g_test_add_func("/fst/aws/register/kill-and-resume", test_register_kill_and_resume);
	rc = g_test_run();
	kill(peer_pid, SIGTERM);
	waitpid(peer_pid, NULL, 0);
	EVP_PKEY_free(test_key);
	X509_free(test_ca);
	g_free(peer_url);
	return rc;
}
