/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstInteraction: where the unattended station takes the CA secret from, the
 * asynchronous requests on the caller's main context, and that unlocking the
 * workspace CA asks the interaction it is given, saying which key.
 */

#include <glib/gstdio.h>

#include "fst-ca-ops.h"
#include "fst-ca-store.h"
#include "fst-ca.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-interaction.h"
#include "fst-station.h"

typedef struct {
	gchar *ws;
} FstFixture;

static void
fst_fixture_setup(FstFixture *fx, gconstpointer data)
{
	fx->ws = g_dir_make_tmp("fst-interaction-XXXXXX", NULL);
	g_assert_nonnull(fx->ws);
	g_unsetenv(FST_INTERACTION_ENV_SECRET);
}

static void
fst_fixture_teardown(FstFixture *fx, gconstpointer data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->ws);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->ws);
	g_unsetenv(FST_INTERACTION_ENV_SECRET);
}

static void
fst_write_passphrase(FstFixture *fx, const gchar *text)
{
	g_autofree gchar *ca = g_build_filename(fx->ws, "ca", NULL);
	g_autofree gchar *path = g_build_filename(ca, "passphrase", NULL);
	g_autoptr(FstSecret) secret = fst_secret_new((const guint8 *)text, strlen(text));
	g_autoptr(GError) error = NULL;
	g_assert_cmpint(g_mkdir_with_parents(ca, 0700), ==, 0);
	g_assert_true(fst_secret_save(secret, path, &error));
	g_assert_no_error(error);
}

static void
fst_interaction_test_sources(FstFixture *fx, gconstpointer data)
{
	g_autoptr(FstInteraction) interaction = fst_interaction_new(fx->ws);
	g_autoptr(FstSecret) secret = NULL;
	g_autoptr(GError) error = NULL;

	/* nothing to read: the CA is unavailable, and the message names the sources */
	secret = fst_interaction_ask_passphrase(interaction, "the test key", 0, NULL, &error);
	g_assert_null(secret);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "the test key"));
	g_assert_nonnull(strstr(error->message, FST_INTERACTION_ENV_SECRET));
	g_clear_error(&error);

	/* the workspace file */
	fst_write_passphrase(fx, "from the file");
	secret = fst_interaction_ask_passphrase(interaction, "the test key", 0, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fst_secret_get_str(secret), ==, "from the file");
	g_clear_pointer(&secret, fst_secret_free);

	/* a PIN never comes from the file that encrypts key files */
	secret = fst_interaction_ask_pin(interaction, "the test token", 0, NULL, &error);
	g_assert_null(secret);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "pin-source"));
	g_clear_error(&error);

	/* the environment comes before the file, for both */
	g_setenv(FST_INTERACTION_ENV_SECRET, "from the environment", TRUE);
	secret = fst_interaction_ask_passphrase(interaction, "the test key", 0, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fst_secret_get_str(secret), ==, "from the environment");
	g_clear_pointer(&secret, fst_secret_free);
	secret = fst_interaction_ask_pin(interaction, "the test token", 0, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fst_secret_get_str(secret), ==, "from the environment");
	g_clear_pointer(&secret, fst_secret_free);

	/* a key from elsewhere is not the workspace's: neither source answers */
	secret = fst_interaction_ask_passphrase(
	    interaction, "the imported key", FST_INTERACTION_FLAG_FOREIGN, NULL, &error);
	g_assert_null(secret);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "the imported key"));
}

typedef struct {
	GMainLoop *loop;
	FstSecret *secret;
	GError *error;
	GThread *thread;
} FstAsyncResult;

static void
fst_interaction_test_async_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FstAsyncResult *r = user_data;
	r->thread = g_thread_self();
	r->secret = fst_interaction_ask_passphrase_finish(FST_INTERACTION(source), res, &r->error);
	g_main_loop_quit(r->loop);
}

static void
fst_interaction_test_async(FstFixture *fx, gconstpointer data)
{
	g_autoptr(FstInteraction) interaction = fst_interaction_new(fx->ws);
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	FstAsyncResult r = {.loop = loop};

	fst_write_passphrase(fx, "async answer");
	fst_interaction_ask_passphrase_async(interaction,
	                                     "the test key",
	                                     FST_INTERACTION_FLAG_NONE,
	                                     NULL,
	                                     fst_interaction_test_async_cb,
	                                     &r);
	g_main_loop_run(loop);
	g_assert_no_error(r.error);
	g_assert_nonnull(r.secret);
	g_assert_cmpstr(fst_secret_get_str(r.secret), ==, "async answer");
	/* the answer arrives on the caller's main context */
	g_assert_true(r.thread == g_thread_self());
	fst_secret_free(r.secret);
}

/* an interaction that answers from memory and remembers what it was asked */
#define FST_TYPE_TEST_INTERACTION (fst_test_interaction_get_type())
G_DECLARE_FINAL_TYPE(
    FstTestInteraction, fst_test_interaction, FST, TEST_INTERACTION, FstInteraction)
struct _FstTestInteraction {
	FstInteraction parent_instance;
	gchar *answer;
	gchar *asked;
	guint n_asked;
	/* answers per question, when set: the first description that holds the key */
	GHashTable *answers; /* (element-type utf8 utf8) (nullable) */
	GString *log;        /* every question, "description [new]" per line */
};
G_DEFINE_TYPE(FstTestInteraction, fst_test_interaction, FST_TYPE_INTERACTION)

static FstSecret *
fst_test_interaction_ask_passphrase(FstInteraction *interaction,
                                    const gchar *description,
                                    FstInteractionFlags flags,
                                    GCancellable *cancellable,
                                    GError **error)
{
	FstTestInteraction *self = FST_TEST_INTERACTION(interaction);
	const gchar *answer = self->answer;
	self->n_asked++;
	g_free(self->asked);
	self->asked = g_strdup(description);
	g_string_append_printf(
	    self->log, "%s%s\n", description, flags & FST_INTERACTION_FLAG_NEW ? " [new]" : "");
	if (self->answers != NULL) {
		GHashTableIter iter;
		gpointer key;
		gpointer value;
		answer = NULL;
		g_hash_table_iter_init(&iter, self->answers);
		while (answer == NULL && g_hash_table_iter_next(&iter, &key, &value)) {
			if (strstr(description, key) != NULL)
				answer = value;
		}
	}
	if (answer == NULL) {
		g_set_error(error, FST_ERROR, FST_ERROR_CANCELLED, "not answered: %s", description);
		return NULL;
	}
	return fst_secret_new((const guint8 *)answer, strlen(answer));
}

static void
fst_test_interaction_finalize(GObject *object)
{
	FstTestInteraction *self = FST_TEST_INTERACTION(object);
	g_free(self->answer);
	g_free(self->asked);
	if (self->answers != NULL)
		g_hash_table_unref(self->answers);
	g_string_free(self->log, TRUE);
	G_OBJECT_CLASS(fst_test_interaction_parent_class)->finalize(object);
}

static void
fst_test_interaction_class_init(FstTestInteractionClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = fst_test_interaction_finalize;
	FST_INTERACTION_CLASS(klass)->ask_passphrase = fst_test_interaction_ask_passphrase;
}

static void
fst_test_interaction_init(FstTestInteraction *self)
{
	self->log = g_string_new(NULL);
}

static void
fst_interaction_test_unlock_ca(FstFixture *fx, gconstpointer data)
{
	g_autofree gchar *ca_dir = g_build_filename(fx->ws, "ca", NULL);
	g_autoptr(FstSecret) pass = fst_secret_new((const guint8 *)"unlock me", 9);
	g_autoptr(FstTestInteraction) ask = g_object_new(FST_TYPE_TEST_INTERACTION, NULL);
	g_autoptr(GError) error = NULL;
	FstCa *ca;

	g_assert_true(fst_ca_create_demo_pki(ca_dir, "Interaction Test", pass, &error));
	g_assert_no_error(error);

	/* the workspace has no ca/passphrase and no environment: only the interaction knows */
	ask->answer = g_strdup("unlock me");
	ca = fst_station_unlock_ca(fx->ws, FST_INTERACTION(ask), &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	fst_ca_free(ca);
	g_assert_cmpuint(ask->n_asked, ==, 1);
	g_assert_nonnull(strstr(ask->asked, "issuing-ca.key"));

	/* a wrong answer: the CA stays locked */
	g_free(ask->answer);
	ask->answer = g_strdup("wrong");
	ca = fst_station_unlock_ca(fx->ws, FST_INTERACTION(ask), &error);
	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_clear_error(&error);

	/* no interaction given: the unattended default does not know it */
	ca = fst_station_unlock_ca(fx->ws, NULL, &error);
	g_assert_null(ca);
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
}

/* the CA the operator makes from the GUI or the CLI: the new keys' passphrase
 * is asked as a new one, and is what unlocks the issuing CA afterwards */
static void
fst_interaction_test_ca_create(FstFixture *fx, gconstpointer data)
{
	g_autoptr(FstTestInteraction) ask = g_object_new(FST_TYPE_TEST_INTERACTION, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *ca_dir = g_build_filename(fx->ws, "ca", NULL);
	g_autoptr(GPtrArray) infos = NULL;
	FstCaOpsCreate options = {.organization = "Acme Works", .days = 400};
	gint64 days;
	FstCa *ca;

	/* a bad subject asks nobody */
	options.subject = "not a subject";
	subject = fst_ca_ops_create(fx->ws, FST_INTERACTION(ask), &options, NULL, &error);
	g_assert_null(subject);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_cmpuint(ask->n_asked, ==, 0);

	options.subject = NULL;
	ask->answer = g_strdup("new and secret");
	subject = fst_ca_ops_create(fx->ws, FST_INTERACTION(ask), &options, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(subject, ==, "/O=Acme Works/CN=Acme Works Issuing CA");
	g_assert_cmpuint(ask->n_asked, ==, 1);
	g_assert_nonnull(strstr(ask->log->str, "[new]"));
	infos = fst_ca_store_list(ca_dir, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(infos->len, ==, 2);

	/* the workspace has a CA now: a second one is refused, asking nobody */
	g_clear_pointer(&subject, g_free);
	subject = fst_ca_ops_create(fx->ws, FST_INTERACTION(ask), &options, NULL, &error);
	g_assert_null(subject);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "already exists"));
	g_clear_error(&error);
	g_assert_cmpuint(ask->n_asked, ==, 1);

	ca = fst_station_unlock_ca(fx->ws, FST_INTERACTION(ask), &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	/* the validity asked for, not the default */
	days = (fst_ca_get_not_after(ca) - g_get_real_time() / G_USEC_PER_SEC) / 86400;
	g_assert_cmpint(days, >=, 399);
	g_assert_cmpint(days, <=, 400);
	fst_ca_free(ca);
}

/* an issuing CA from elsewhere, its key encrypted: the interaction is asked
 * for the imported key's passphrase, then for the workspace's new one */
static void
fst_interaction_test_ca_import(FstFixture *fx, gconstpointer data)
{
	g_autoptr(FstTestInteraction) ask = g_object_new(FST_TYPE_TEST_INTERACTION, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *src = g_build_filename(fx->ws, "from-elsewhere", NULL);
	g_autofree gchar *ws = g_build_filename(fx->ws, "station", NULL);
	g_autofree gchar *cert_path = g_build_filename(src, "ca.pem", NULL);
	g_autofree gchar *key_path = g_build_filename(src, "ca.key", NULL);
	g_autoptr(FstSecret) src_pass = fst_secret_new((const guint8 *)"old key pass", 12);
	g_autoptr(EVP_PKEY) key = fst_ca_store_generate_key(FST_KEY_TYPE_EC_P256, &error);
	g_autoptr(X509) cert = NULL;
	g_autoptr(GPtrArray) certs = g_ptr_array_new();
	FstCaStoreOptions opts = {
	    .subject = "/O=Elsewhere/CN=Imported CA", .days = 800, .pathlen = 0};
	FstCaOpsImport import = {.cert = cert_path, .key = key_path};
	FstCa *ca;

	g_assert_no_error(error);
	g_assert_cmpint(g_mkdir_with_parents(src, 0700), ==, 0);
	cert = fst_ca_store_make_ca_cert(key, &opts, NULL, key, &error);
	g_assert_no_error(error);
	g_ptr_array_add(certs, cert);
	g_assert_true(fst_ca_store_write_certs(certs, cert_path, &error));
	g_assert_true(fst_ca_store_write_key(key, key_path, src_pass, &error));
	g_assert_no_error(error);

	/* neither key source */
	import.key = NULL;
	g_assert_false(fst_ca_ops_import(ws, FST_INTERACTION(ask), &import, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	import.key = key_path;

	/* a wrong passphrase for the imported key is refused, asked once */
	ask->answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_hash_table_insert(ask->answers, g_strdup("being imported"), g_strdup("not the old pass"));
	g_hash_table_insert(ask->answers, g_strdup("new CA"), g_strdup("the station's pass"));
	g_assert_false(fst_ca_ops_import(ws, FST_INTERACTION(ask), &import, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
	g_clear_error(&error);
	g_assert_cmpuint(ask->n_asked, ==, 1);
	g_assert_false(fst_station_has_ca(ws));

	g_hash_table_insert(ask->answers, g_strdup("being imported"), g_strdup("old key pass"));
	g_string_truncate(ask->log, 0);
	g_assert_true(fst_ca_ops_import(ws, FST_INTERACTION(ask), &import, &error));
	g_assert_no_error(error);
	g_assert_nonnull(strstr(ask->log->str, "the key being imported, "));
	g_assert_nonnull(strstr(ask->log->str, "new CA keys of"));
	g_assert_nonnull(strstr(ask->log->str, "[new]"));
	g_assert_true(fst_station_has_ca(ws));

	/* a second import is refused before any question */
	ask->n_asked = 0;
	g_assert_false(fst_ca_ops_import(ws, FST_INTERACTION(ask), &import, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	g_assert_cmpuint(ask->n_asked, ==, 0);

	/* the key is the workspace's now, under the new passphrase */
	g_hash_table_insert(ask->answers, g_strdup("issuing CA"), g_strdup("the station's pass"));
	ca = fst_station_unlock_ca(ws, FST_INTERACTION(ask), &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	fst_ca_free(ca);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/fst/interaction/sources",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_interaction_test_sources,
	           fst_fixture_teardown);
	g_test_add("/fst/interaction/async-on-caller-context",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_interaction_test_async,
	           fst_fixture_teardown);
	g_test_add("/fst/interaction/unlock-ca-asks-interaction",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_interaction_test_unlock_ca,
	           fst_fixture_teardown);
	g_test_add("/fst/interaction/ca-create-asks-new-passphrase",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_interaction_test_ca_create,
	           fst_fixture_teardown);
	g_test_add("/fst/interaction/ca-import-asks-key-passphrase",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_interaction_test_ca_import,
	           fst_fixture_teardown);
	return g_test_run();
}
