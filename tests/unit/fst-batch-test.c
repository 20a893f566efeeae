/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batch manifests (station/fst-batch.c): CSV quoting as spreadsheets write it,
 * and the errors that name the line.
 */

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

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
	g_autoptr(FstBatch) batch =
	    fst_batch_test_parse("\xef\xbb\xbf"
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
	    {"\"device\",\"Device\"\nA,B\n", "m.csv:1: column \"device\" is repeated"},
	    {"device;port\nSN-1;\"/dev/x\n", "m.csv:2: a quoted field has no closing quote"},
	    {"device,port\n\"SN\n1\",/dev/x\n", "m.csv:2: the device value holds a control"},
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

/* a spreadsheet in a German or French locale separates with semicolons (the
 * comma is its decimal mark), quotes a cell that holds a semicolon, and
 * keeps multi-line cells of a notes column, which the manifest ignores */
static void
fst_batch_test_csv_semicolon(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstBatch) batch =
	    fst_batch_test_parse("\xef\xbb\xbf"
	                         "Device;Port;Notes;Lot\r\n"
	                         "SN-1;/dev/ttyUSB0;\"Spannung 3,3 V; ok\";L-1\r\n"
	                         "\"SN;2\";/dev/ttyUSB1;\"zwei\r\nZeilen\r\n\";L-1\r\n"
	                         "SN-3;;;\r\n",
	                         &error);
	FstBatchRow *row;

	g_assert_no_error(error);
	g_assert_cmpuint(batch->rows->len, ==, 3);
	row = g_ptr_array_index(batch->rows, 0);
	g_assert_cmpstr(row->device, ==, "SN-1");
	g_assert_cmpstr(row->port, ==, "/dev/ttyUSB0");
	g_assert_cmpstr(row->lot, ==, "L-1");
	row = g_ptr_array_index(batch->rows, 1);
	g_assert_cmpstr(row->device, ==, "SN;2");
	g_assert_cmpstr(row->port, ==, "/dev/ttyUSB1");
	g_assert_cmpuint(row->line, ==, 3);
	/* the row after a three-line cell is on line 6 of the file */
	row = g_ptr_array_index(batch->rows, 2);
	g_assert_cmpstr(row->device, ==, "SN-3");
	g_assert_null(row->port);
	g_assert_cmpuint(row->line, ==, 6);
}

/* the comma stays the separator when the header has more commas, even with
 * semicolons inside quoted names */
static void
fst_batch_test_csv_delimiter(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstBatch) batch = fst_batch_test_parse("# made by hand; comma separated\n"
	                                                 "device,\"port;x\",lot\nSN-1,/dev/a,L;1\n",
	                                                 &error);
	FstBatchRow *row;

	g_assert_no_error(error);
	row = g_ptr_array_index(batch->rows, 0);
	g_assert_cmpstr(row->device, ==, "SN-1");
	g_assert_cmpstr(row->lot, ==, "L;1");
	g_clear_pointer(&batch, fst_batch_free);
	batch = fst_batch_test_parse("device\tport\nSN-1\t/dev/a\n", &error);
	g_assert_no_error(error);
	row = g_ptr_array_index(batch->rows, 0);
	g_assert_cmpstr(row->port, ==, "/dev/a");
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

static FstBatch *
fst_batch_test_parse_json(const gchar *text, GError **error)
{
	return fst_batch_parse("m.json", text, strlen(text), error);
}

/* json-glib recurses per level: a deep manifest is refused before it parses */
static void
fst_batch_test_json_deep(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(FstBatch) batch = NULL;
	g_autoptr(FstBatch) ok = NULL;

	for (guint i = 0; i < 85000; i++)
		g_string_append_c(text, '[');
	for (guint i = 0; i < 85000; i++)
		g_string_append_c(text, ']');
	batch = fst_batch_test_parse_json(text->str, &error);
	g_assert_null(batch);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "m.json:1: JSON nested more than 32 levels"));
	g_clear_error(&error);

	/* brackets inside strings, escaped quotes included, are not nesting */
	g_string_assign(text, "{\"devices\": [{\"device\": \"\\\"");
	for (guint i = 0; i < 100; i++)
		g_string_append(text, "[{");
	g_string_append(text, "\", \"port\": \"/dev/x\"}]}");
	ok = fst_batch_test_parse_json(text->str, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ok->rows->len, ==, 1);
	g_assert_true(
	    g_str_has_prefix(((FstBatchRow *)g_ptr_array_index(ok->rows, 0))->device, "\"[{[{"));
}

/* json-glib ends a string at \u0000: a value that would be cut is refused */
static void
fst_batch_test_json_nul(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstBatch) batch =
	    fst_batch_test_parse_json("[{\"device\": \"SN-1\", \"port\": \"/dev/x\"},\n"
	                              " {\"device\": \"SN-2\\u0000-evil\", \"port\": \"/dev/y\"}]",
	                              &error);
	g_autoptr(FstBatch) ok = NULL;
	g_assert_null(batch);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "m.json:2: a string holds \\u0000"));
	g_clear_error(&error);

	/* an escaped backslash followed by u0000 is text, not a NUL */
	ok = fst_batch_test_parse_json("[{\"device\": \"SN\\\\u0000\"}]", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(((FstBatchRow *)g_ptr_array_index(ok->rows, 0))->device, ==, "SN\\u0000");
}

/* a member given twice would mean whichever came last: refused with its line */
static void
fst_batch_test_json_repeated(void)
{
	const struct {
		const gchar *text;
		const gchar *message;
	} cases[] = {
	    {"[{\"device\": \"SN-1\",\n \"port\": \"/dev/x\",\n \"device\": \"SN-2\"}]",
	     "m.json:3: \"device\" appears twice in one object"},
	    {"{\"profile\": \"a\",\n \"devices\": [{\"device\": \"SN-1\"}],\n \"profile\": \"b\"}",
	     "m.json:3: \"profile\" appears twice in one object"},
	    {"{\"devices\": [{\"device\": \"SN-1\"}],\n \"devices\": [{\"device\": \"SN-2\"}]}",
	     "m.json:2: \"devices\" appears twice in one object"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstBatch) batch = fst_batch_test_parse_json(cases[i].text, &error);
		g_assert_null(batch);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_test_message("case %u: %s", i, error->message);
		g_assert_true(g_str_has_prefix(error->message, cases[i].message));
	}
}

/* only a bounded regular file is read: no endless read of /dev/zero, no
 * wait on a FIFO, no directory */
static void
fst_batch_test_load_non_regular(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-batch-XXXXXX", NULL);
	g_autofree gchar *fifo = g_build_filename(dir, "fifo.csv", NULL);
	g_autofree gchar *big = g_build_filename(dir, "big.csv", NULL);
	g_autofree gchar *good = g_build_filename(dir, "good.csv", NULL);
	g_autofree gchar *data = g_malloc(16 * 1024 * 1024 + 1);
	g_autoptr(FstBatch) batch = NULL;
	g_autoptr(GError) error_good = NULL;
	const struct {
		const gchar *path;
		const gchar *message;
	} cases[] = {
	    {"/dev/zero", "is a character device, not a regular file"},
	    {fifo, "is a FIFO, not a regular file"},
	    {dir, "is a directory, not a regular file"},
	    {big, "16777217 bytes, more than the 16777216 bytes allowed"},
	};

	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	memset(data, '#', 16 * 1024 * 1024 + 1);
	g_assert_true(g_file_set_contents(big, data, 16 * 1024 * 1024 + 1, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstBatch) bad = fst_batch_load(cases[i].path, &error);
		g_assert_null(bad);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_test_message("%s: %s", cases[i].path, error->message);
		g_assert_nonnull(strstr(error->message, cases[i].message));
	}
	g_assert_true(g_file_set_contents(good, "device\nSN-1\n", -1, NULL));
	batch = fst_batch_load(good, &error_good);
	g_assert_no_error(error_good);
	g_assert_cmpuint(batch->rows->len, ==, 1);
	g_unlink(fifo);
	g_unlink(big);
	g_unlink(good);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/batch/csv/quoted", fst_batch_test_csv_quoted);
	g_test_add_func("/fst/batch/csv/bad-quotes", fst_batch_test_csv_bad_quotes);
	g_test_add_func("/fst/batch/csv/header-quoted", fst_batch_test_csv_header_quoted);
	g_test_add_func("/fst/batch/csv/semicolons-and-multi-line-cells",
	                fst_batch_test_csv_semicolon);
	g_test_add_func("/fst/batch/csv/delimiter-from-header", fst_batch_test_csv_delimiter);
	g_test_add_func("/fst/batch/json/rejects-deep-nesting", fst_batch_test_json_deep);
	g_test_add_func("/fst/batch/json/rejects-nul-escape", fst_batch_test_json_nul);
	g_test_add_func("/fst/batch/json/rejects-repeated-member", fst_batch_test_json_repeated);
	g_test_add_func("/fst/batch/load/rejects-non-regular-files",
	                fst_batch_test_load_non_regular);
	return g_test_run();
}
