/*
 * Batch manifests (station/fst-batch.c): CSV quoting as spreadsheets write it,
 * and the errors that name the line.
 */

#include <string.h>

#include "fst-batch.h"
#include "fst-error.h"

static FstBatch *
fst_batch_test_parse(const gchar *text, GError **error)
{
	return fst_batch_parse("m.csv", text, strlen(text), error);
}

static void
fst_batch_test_csv_quoted(void)
{
	g_autoptr(GError) error = NULL;
	/* a BOM, CRLF, a quoted comma, doubled quotes, spaces around a quoted field,
	 * non-ASCII, and an empty quoted field that takes the manifest default */
	g_autoptr(FstBatch) batch = fst_batch_test_parse("\xef\xbb\xbf"
							 "device,port,profile,lot\r\n"
							 "\"SN,0001\",/dev/ttyUSB0,aws-iot-ecc,LOT-7\r\n"
							 "  \"SN \"\"2\"\"\" ,,\"\",\"Lot \xc3\xa9t\xc3\xa9\"\r\n"
							 "# a comment\r\n"
							 ",\"/dev/ttyUSB2\",,\n",
							 &error);
	FstBatchRow *row;

	g_assert_no_error(error);
	g_assert_nonnull(batch);
	g_assert_cmpuint(batch->rows->len, ==, 3);
	row = g_ptr_array_index(batch->rows, 0);
	g_assert_cmpstr(row->device, ==, "SN,0001");
	g_assert_cmpstr(row->port, ==, "/dev/ttyUSB0");
	g_assert_cmpstr(row->profile, ==, "aws-iot-ecc");
	g_assert_cmpstr(row->lot, ==, "LOT-7");
	g_assert_cmpuint(row->line, ==, 2);
	row = g_ptr_array_index(batch->rows, 1);
	g_assert_cmpstr(row->device, ==, "SN \"2\"");
	g_assert_null(row->port);
	g_assert_null(row->profile);
	g_assert_cmpstr(row->lot, ==, "Lot \xc3\xa9t\xc3\xa9");
	row = g_ptr_array_index(batch->rows, 2);
	g_assert_null(row->device);
	g_assert_cmpstr(row->port, ==, "/dev/ttyUSB2");
	g_assert_cmpuint(row->line, ==, 5);
}

static void
fst_batch_test_csv_bad_quotes(void)
{
	const struct {
		const gchar *text;
		const gchar *message;
	} cases[] = {
	    {"device,port\n\"SN-1,/dev/x\n", "m.csv:2: a quoted field has no closing quote"},
	    {"device,port\n\"SN\"1,/dev/x\n", "m.csv:2: text after the closing quote of field 1"},
	    {"device,port\nSN-1,/dev/\"x\"\n", "m.csv:2: a quote inside unquoted field 2"},
	    {"device,port\n\"SN-1\",\"/dev/x\",\n", "m.csv:2: 3 fields where the header has 2"},
	    {"\"device\",\"colour\"\nA,B\n", "m.csv:1: column \"colour\" is unknown"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstBatch) batch = fst_batch_test_parse(cases[i].text, &error);
		g_assert_null(batch);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_test_message("case %u: %s", i, error->message);
		g_assert_true(g_str_has_prefix(error->message, cases[i].message));
	}
}

static void
fst_batch_test_csv_header_quoted(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstBatch) batch =
	    fst_batch_test_parse("\"Device\" , \"PORT\"\nSN-1,/dev/x\n", &error);
	FstBatchRow *row;
	g_assert_no_error(error);
	row = g_ptr_array_index(batch->rows, 0);
	g_assert_cmpstr(row->device, ==, "SN-1");
	g_assert_cmpstr(row->port, ==, "/dev/x");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/batch/csv/quoted", fst_batch_test_csv_quoted);
	g_test_add_func("/fst/batch/csv/bad-quotes", fst_batch_test_csv_bad_quotes);
	g_test_add_func("/fst/batch/csv/header-quoted", fst_batch_test_csv_header_quoted);
	return g_test_run();
}
