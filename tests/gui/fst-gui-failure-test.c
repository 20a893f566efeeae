/* SPDX-License-Identifier: Apache-2.0 */
/* the technician's words for each way a device fails, and for the CA's end */

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "fst-error.h"
#include "fst-gui-failure.h"
#include "fst-gui-text.h"

static void
fst_gui_failure_each_code_test(void)
{
	const gchar *fallback_reason;
	FstGuiFailure failure;
	g_autoptr(GError) internal = g_error_new_literal(FST_ERROR, FST_ERROR_INTERNAL, "bug");

	fst_gui_failure_describe(internal, FST_STEP_BURN, &failure);
	fallback_reason = failure.reason;
	/* every code but INTERNAL has words of its own, with an action */
	for (gint code = FST_ERROR_INVALID_DATA; code < FST_ERROR_LAST; code++) {
		g_autoptr(GError) error = g_error_new_literal(FST_ERROR, code, "something");
		fst_gui_failure_describe(error, FST_STEP_BURN, &failure);
		g_assert_cmpstr(failure.reason, !=, fallback_reason);
		g_assert_nonnull(failure.action);
		g_assert_cmpuint(strlen(failure.action), >, 10);
	}
}

static void
fst_gui_failure_storage_full_test(void)
{
	FstGuiFailure failure;
	g_autoptr(GError) error = g_error_new_literal(
	    FST_ERROR, FST_ERROR_STORAGE_FULL, "the certificate needs 725 bytes");
	fst_gui_failure_describe(error, FST_STEP_BURN, &failure);
	g_assert_cmpstr(failure.reason, ==, "Device storage full");
	g_assert_nonnull(strstr(failure.action, "small-storage"));
	g_assert_cmpstr(fst_gui_failure_cause(error, FST_STEP_BURN), ==, "Device storage full");
}

static void
fst_gui_failure_wrong_model_test(void)
{
	FstGuiFailure failure;
	g_autoptr(GError) model =
	    g_error_new_literal(FST_ERROR,
	                        FST_ERROR_CONFIG,
	                        "device model acme-board does not match profile aws-iot-ecc "
	                        "(models: devsim-ecc): choose "
	                        "another profile");
	g_autoptr(GError) config = g_error_new_literal(FST_ERROR, FST_ERROR_CONFIG, "bad profile");

	fst_gui_failure_describe(model, FST_STEP_PLAN, &failure);
	g_assert_cmpstr(failure.reason, ==, "Wrong model for this profile");
	fst_gui_failure_describe(config, FST_STEP_PLAN, &failure);
	g_assert_cmpstr(failure.reason, !=, "Wrong model for this profile");
	g_assert_nonnull(strstr(failure.action, "supervisor"));
}

/* BUSY: the port at connect; once the board has given its id, the id (the
 * same id on another port, or held by another station) */
static void
fst_gui_failure_busy_test(void)
{
	FstGuiFailure failure;
	g_autoptr(GError) busy = g_error_new_literal(FST_ERROR, FST_ERROR_BUSY, "busy");

	fst_gui_failure_describe(busy, FST_STEP_CONNECT, &failure);
	g_assert_cmpstr(failure.reason, ==, "The port is in use by another program");
	fst_gui_failure_describe(busy, FST_STEP_IDENTIFY, &failure);
	g_assert_cmpstr(failure.reason, ==, "Another board has the same id");
	g_assert_cmpstr(failure.action, ==, "Set this board aside and have its id checked");
	fst_gui_failure_describe(busy, FST_STEP_PLAN, &failure);
	g_assert_cmpstr(failure.reason, ==, "Another board has the same id");
}

/* a key another board holds fails at the issue step: the board is at
 * fault, not AWS IoT, whatever issues the certificates */
static void
fst_gui_failure_key_reused_test(void)
{
	FstGuiFailure failure;
	g_autoptr(GError) error = g_error_new_literal(
	    FST_ERROR, FST_ERROR_KEY_REUSED, "already certified for device B-1");

	fst_gui_failure_describe(error, FST_STEP_ISSUE, &failure);
	g_assert_cmpstr(failure.reason, ==, "Another board has the same key");
	g_assert_cmpstr(failure.action, ==, "Set this board aside: its key generator is faulty");
}

static void
fst_gui_failure_reseat_test(void)
{
	const gint codes[] = {FST_ERROR_TIMED_OUT, FST_ERROR_DISCONNECTED, FST_ERROR_PROTOCOL};
	for (guint i = 0; i < G_N_ELEMENTS(codes); i++) {
		FstGuiFailure failure;
		g_autoptr(GError) error = g_error_new_literal(FST_ERROR, codes[i], "no answer");
		fst_gui_failure_describe(error, FST_STEP_BURN, &failure);
		g_assert_cmpstr(failure.action, ==, "Re-seat the board and press Retry");
	}
}

/* at the issue step the far end is AWS IoT (issuer=aws), not the board */
static void
fst_gui_failure_issuer_test(void)
{
	static const struct {
		gint code;
		const gchar *reason;
	} cases[] = {
	    {FST_ERROR_DISCONNECTED, "The station cannot reach AWS IoT"},
	    {FST_ERROR_TIMED_OUT, "The station cannot reach AWS IoT"},
	    {FST_ERROR_PROTOCOL, "The station cannot reach AWS IoT"},
	    {FST_ERROR_BUSY, "AWS IoT is busy"},
	    {FST_ERROR_PERMISSION_DENIED, "AWS IoT refused the station"},
	    {FST_ERROR_NOT_FOUND, "AWS IoT refused the station"},
	};
	FstGuiFailure failure;
	g_autoptr(GError) ca = g_error_new_literal(FST_ERROR, FST_ERROR_CA_UNAVAILABLE, "locked");
	g_autoptr(GError) csr = g_error_new_literal(FST_ERROR, FST_ERROR_INVALID_DATA, "bad CSR");

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error =
		    g_error_new_literal(FST_ERROR, cases[i].code, "AWS IoT: no answer");
		fst_gui_failure_describe(error, FST_STEP_ISSUE, &failure);
		g_assert_cmpstr(failure.reason, ==, cases[i].reason);
		g_assert_null(strstr(failure.action, "Re-seat"));
		g_assert_cmpstr(fst_gui_failure_cause(error, FST_STEP_ISSUE), ==, cases[i].reason);
		/* the same code at another step is the board's */
		fst_gui_failure_describe(error, FST_STEP_VERIFY, &failure);
		g_assert_cmpstr(failure.reason, !=, cases[i].reason);
	}
	/* AWS IoT failing as the issuer (refused, out of reach), which stops the
	 * line, is not the station's CA */
	{
		g_autoptr(GError) aws = g_error_new_literal(
		    FST_ERROR,
		    FST_ERROR_CA_UNAVAILABLE,
		    "AWS IoT CreateCertificateFromCsr failed after every retry (HTTP 503)");
		fst_gui_failure_describe(aws, FST_STEP_ISSUE, &failure);
		g_assert_cmpstr(failure.reason, ==, "AWS IoT issues no certificate now");
		g_assert_nonnull(strstr(failure.action, "the line stopped"));
	}
	/* the station's own CA and a board's bad CSR keep their words */
	fst_gui_failure_describe(ca, FST_STEP_ISSUE, &failure);
	g_assert_cmpstr(failure.reason, ==, "The certificate authority cannot sign");
	fst_gui_failure_describe(csr, FST_STEP_ISSUE, &failure);
	g_assert_cmpstr(failure.reason, ==, "The board sent something the station cannot use");
}

static void
fst_gui_failure_foreign_test(void)
{
	FstGuiFailure failure;
	g_autoptr(GError) error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "x");
	fst_gui_failure_describe(error, FST_STEP_ISSUE, &failure);
	g_assert_cmpstr(failure.reason, ==, "Unexpected error");
	g_assert_nonnull(strstr(failure.action, "Retry"));
}

/* the counters' line of causes: the commonest first, ties by name, none
 * when nothing failed */
static void
fst_gui_failure_causes_test(void)
{
	g_autoptr(GHashTable) causes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree gchar *none = fst_gui_failure_causes_text(causes);
	g_autofree gchar *text = NULL;

	g_assert_null(none);
	g_hash_table_insert(causes, g_strdup("Board did not answer"), GUINT_TO_POINTER(1));
	g_hash_table_insert(causes, g_strdup("Device storage full"), GUINT_TO_POINTER(4));
	g_hash_table_insert(causes, g_strdup("AWS IoT is busy"), GUINT_TO_POINTER(1));
	g_hash_table_insert(causes, g_strdup("Wrong model for this profile"), GUINT_TO_POINTER(2));
	text = fst_gui_failure_causes_text(causes);
	g_assert_cmpstr(text,
	                ==,
	                "Failures by cause:  Device storage full × 4  Wrong model for this "
	                "profile × 2  AWS IoT is busy × 1  Board did not answer × 1");
}

/* the CA's days left as words: never "1 days", "0 days", nor "expires"
 * once it has */
static void
fst_gui_text_ca_end_test(void)
{
	static const struct {
		gint64 left;
		const gchar *text;
	} cases[] = {
	    {7304 * 86400 + 5, "CA X: expires in 7304 days"},
	    {2 * 86400, "CA X: expires in 2 days"},
	    {86400 + 3600, "CA X: expires in 1 day"},
	    {86400, "CA X: expires in 1 day"},
	    {86399, "CA X: expires in less than a day"},
	    {1, "CA X: expires in less than a day"},
	    {0, "CA X has expired"},
	    {-3600, "CA X has expired"},
	    {-5 * 86400, "CA X has expired"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = fst_gui_text_ca_end("X", cases[i].left);
		g_assert_cmpstr(text, ==, cases[i].text);
	}
}

int
main(int argc, char **argv)
{
	/* the words are checked untranslated */
	g_setenv("LANGUAGE", "C", TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/gui/failure/each-code-has-words", fst_gui_failure_each_code_test);
	g_test_add_func("/fst/gui/failure/causes-commonest-first", fst_gui_failure_causes_test);
	g_test_add_func("/fst/gui/failure/storage-full-names-the-profile",
	                fst_gui_failure_storage_full_test);
	g_test_add_func("/fst/gui/failure/wrong-model", fst_gui_failure_wrong_model_test);
	g_test_add_func("/fst/gui/failure/busy-port-or-id", fst_gui_failure_busy_test);
	g_test_add_func("/fst/gui/failure/key-reused", fst_gui_failure_key_reused_test);
	g_test_add_func("/fst/gui/failure/no-answer-means-reseat", fst_gui_failure_reseat_test);
	g_test_add_func("/fst/gui/failure/issue-step-is-aws", fst_gui_failure_issuer_test);
	g_test_add_func("/fst/gui/failure/foreign-error", fst_gui_failure_foreign_test);
	g_test_add_func("/fst/gui/text/ca-end", fst_gui_text_ca_end_test);
	return g_test_run();
}
