/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Report exports beside the CSV of db/fst-report.c: JSON (json-glib), PDF
 * (cairo) and the detached CMS signature of any export with the station's
 * report key.
 *
 * Report key: WORKSPACE/report-key.pem, an EC P-256 key kept like the CA keys:
 * encrypted PKCS#8 (scrypt, AES-256-CBC, fst_ca_store_write_key()) under the
 * passphrase of the workspace CA keys, mode 0600. Its certificate,
 * WORKSPACE/report-cert.pem, says what it is ("fleetstation report signer
 * <station>", CA:FALSE, keyUsage digitalSignature) and is issued by the
 * workspace root CA when its key is in the workspace, else self-signed (and
 * named so). Both are made at the first signature. A key left unencrypted by an older version is
 * encrypted in place (atomically) the next time the passphrase is known.
 *
 * A signature is PEM CMS (RFC 5652) SignedData, detached, over the exact
 * bytes of the file (binary mode), signed with SHA-256, the signer
 * certificate included. Anyone can check it with OpenSSL:
 *
 *   openssl cms -verify -binary -inform PEM -in report.csv.sig \
 *     -content report.csv -CAfile WORKSPACE/ca/root-ca.pem -out /dev/null
 *
 * (for a self-signed report certificate, `-CAfile WORKSPACE/report-cert.pem`;
 * `-partial_chain -CAfile WORKSPACE/report-cert.pem` works for both).
 */

#define G_LOG_DOMAIN "FstReport"

#include "fst-report-export.h"

#include <cairo-pdf.h>
#include <errno.h>
#include <json-glib/json-glib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <glib/gstdio.h>
#include <openssl/rand.h>
#include <pango/pangocairo.h>
#include <string.h>
#include <unistd.h>

#include "fst-ca-store.h"
#include "fst-cairo-common.h"
#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-file.h"
#include "fst-openssl-common.h"
#include "fst-station.h"
#include "fst-secret.h"
#include "fst-time.h"

static gdouble
fst_report_yield(const FstReportSummary *sum)
{
	return sum->devices > 0 ? 100.0 * (gdouble)sum->provisioned / (gdouble)sum->devices : 0.0;
}

/* JSON */

static void
fst_report_json_member_int(JsonBuilder *b, const gchar *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static void
fst_report_json_member_str(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

typedef struct {
	FILE *out;
	gboolean first;
} FstReportJson;

static gboolean
fst_report_json_row(const gchar *const *cells, gpointer user_data, GError **error)
{
	FstReportJson *ctx = user_data;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *text = NULL;

	json_builder_begin_object(b);
	for (guint i = 0; i < FST_REPORT_N_COLUMNS; i++)
		fst_report_json_member_str(b, fst_report_columns[i], cells[i]);
	json_builder_end_object(b);
	node = json_builder_get_root(b);
	text = json_to_string(node, FALSE);
	if (fprintf(ctx->out, "%s\n    %s", ctx->first ? "" : ",", text) < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "writing the JSON report failed: %s: check the free space",
		            g_strerror(errno));
		return FALSE;
	}
	ctx->first = FALSE;
	return TRUE;
}

/* @counts (element-type FstReportCount) as [{"name", "devices"}, ...] */
static void
fst_report_json_counts(JsonBuilder *b, const gchar *member, GPtrArray *counts)
{
	json_builder_set_member_name(b, member);
	json_builder_begin_array(b);
	for (guint i = 0; i < counts->len; i++) {
		const FstReportCount *count = g_ptr_array_index(counts, i);
		json_builder_begin_object(b);
		fst_report_json_member_str(b, "name", count->name);
		fst_report_json_member_int(b, "devices", count->devices);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

/* the summary as a JSON object */
static JsonNode *
fst_report_summary_to_json(const FstReportSummary *sum, const FstReportScope *scope)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree gchar *first = fst_time_iso(sum->first_us);
	g_autofree gchar *last = fst_time_iso(sum->last_us);
	g_autofree gchar *now = fst_time_iso(g_get_real_time());

	json_builder_begin_object(b);
	fst_report_json_member_str(b, "database_id", sum->database_id);
	fst_report_json_member_str(b, "stations", sum->stations);
	json_builder_set_member_name(b, "scope");
	json_builder_begin_object(b);
	fst_report_json_member_str(b, "lot", scope != NULL ? scope->lot : NULL);
	fst_report_json_member_str(b, "station", scope != NULL ? scope->station : NULL);
	fst_report_json_member_int(b, "since_us", scope != NULL ? scope->since_us : 0);
	fst_report_json_member_int(b, "until_us", scope != NULL ? scope->until_us : 0);
	json_builder_end_object(b);
	fst_report_json_member_str(b, "first_updated_at", first);
	fst_report_json_member_str(b, "last_updated_at", last);
	fst_report_json_member_str(b, "generated_at", now);
	fst_report_json_member_str(b, "audit_head", sum->audit_head);
	fst_report_json_member_int(b, "devices", sum->devices);
	fst_report_json_member_int(b, "provisioned", sum->provisioned);
	fst_report_json_member_int(b, "failed", sum->failed);
	fst_report_json_member_int(b, "rework", sum->rework);
	fst_report_json_member_int(b, "in_progress", sum->in_progress);
	json_builder_set_member_name(b, "yield_percent");
	json_builder_add_double_value(b, fst_report_yield(sum));
	fst_report_json_counts(b, "operators", sum->operators);
	fst_report_json_counts(b, "lots", sum->lots);
	json_builder_set_member_name(b, "failures");
	json_builder_begin_array(b);
	for (guint i = 0; i < sum->failures->len; i++) {
		FstReportFailure *f = g_ptr_array_index(sum->failures, i);
		json_builder_begin_object(b);
		fst_report_json_member_str(b, "error_code", f->error_code);
		fst_report_json_member_str(b, "step", f->step);
		fst_report_json_member_int(b, "devices", f->devices);
		fst_report_json_member_str(b, "example", f->reason);
		json_builder_set_member_name(b, "example_devices");
		json_builder_begin_array(b);
		for (guint j = 0; f->example_devices != NULL && f->example_devices[j] != NULL; j++)
			json_builder_add_string_value(b, f->example_devices[j]);
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

/**
 * fst_report_parse_time:
 * @text: (nullable): a UTC date `2026-11-23` (its midnight) or an ISO 8601
 *   time `2026-11-23T08:00:00Z` (with an offset, or UTC)
 * @out_us: (out): unix microseconds; untouched when @text is %NULL or empty
 * @error: (nullable): return location
 *
 * Reads a bound of a report's time range (#FstReportScope since_us and
 * until_us), as the CLI's options and the GUI's fields give it.
 *
 * Returns: %TRUE on success; %FST_ERROR_CONFIG when @text is neither
 */
gboolean
fst_report_parse_time(const gchar *text, gint64 *out_us, GError **error)
{
	g_autoptr(GDateTime) dt = NULL;
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();

	if (text == NULL || text[0] == '\0')
		return TRUE;
	dt = g_date_time_new_from_iso8601(text, utc);
	if (dt == NULL) {
		g_autofree gchar *full = g_strdup_printf("%sT00:00:00Z", text);
		dt = g_date_time_new_from_iso8601(full, utc);
	}
	if (dt == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s is not a date (2026-11-23) or an ISO 8601 time "
		            "(2026-11-23T08:00:00Z)",
		            text);
		return FALSE;
	}
	*out_us = g_date_time_to_unix(dt) * G_USEC_PER_SEC;
	return TRUE;
}

/**
 * fst_report_write_json:
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @out: where to write; not closed
 * @error: (nullable): return location for a #GError
 *
 * Writes `{"summary": {...}, "devices": [{column: value, ...}, ...]}`. The
 * summary holds database_id, stations, scope {lot, station, since_us,
 * until_us}, first_updated_at, last_updated_at, generated_at, audit_head,
 * devices, provisioned, failed, rework, in_progress, yield_percent,
 * operators and lots [{name, devices}] (the devices by the operator and the
 * lot of their last start, most first; name null for none), and failures
 * [{error_code, step, devices, example, example_devices}] (the failed
 * devices by class, most first); each device object has the columns of
 * fst-report.h as string members ("" when unknown). Rows are streamed.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_write_json(const gchar *db_path, const FstReportScope *scope, FILE *out, GError **error)
{
	g_autoptr(FstReportSummary) sum = fst_report_summary(db_path, scope, error);
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *head = NULL;
	FstReportJson ctx = {.out = out, .first = TRUE};

	if (sum == NULL)
		return FALSE;
	node = fst_report_summary_to_json(sum, scope);
	head = json_to_string(node, TRUE);
	if (fprintf(out, "{\n  \"summary\": %s,\n  \"devices\": [", head) < 0 ||
	    !fst_report_foreach(db_path, scope, fst_report_json_row, &ctx, error) ||
	    fprintf(out, "\n  ]\n}\n") < 0 || fflush(out) != 0) {
		if (error != NULL && *error == NULL)
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "writing the JSON report failed: %s: check the free space",
			            g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* PDF: portrait A4 or Letter, in points; text laid out with Pango, so that
 * what does not fit a column is ellipsized or set smaller, never clipped */
#define FST_PDF_MARGIN 40.0
#define FST_PDF_ROW 11.0
#define FST_PDF_FOOTER 24.0
#define FST_PDF_MAX_FAILURES 12
/* the table's width on A4 between the margins: columns scale to the paper */
#define FST_PDF_TABLE_W 515.0

/* the per-device table: report column index, title, width on A4, and
 * whether the cell is shown whole (set smaller to fit, never cut): a serial
 * or a time read by a person must be read entirely */
static const struct {
	guint column;
	const gchar *title;
	gdouble width;
	gboolean whole;
} fst_pdf_table[] = {
    {0, "Device", 100, FALSE},
    {1, "Model", 52, FALSE},
    {7, "State", 53, FALSE},
    {9, "Serial", 170, TRUE},
    {11, "Certificate", 52, FALSE},
    {16, "Updated (UTC)", 88, TRUE},
};

typedef struct {
	cairo_t *cr;
	PangoFontMap *fontmap;      /* (owned): private, so that nothing stays cached */
	PangoContext *context;      /* (owned) */
	PangoFontDescription *font; /* (owned): the current font */
	gdouble w;
	gdouble h;
	guint page;
	guint pages;
	gdouble y;
} FstPdf;

static void
fst_pdf_clear(FstPdf *pdf)
{
	g_clear_pointer(&pdf->font, pango_font_description_free);
	g_clear_object(&pdf->context);
	g_clear_object(&pdf->fontmap);
}

static void
fst_pdf_font_full(FstPdf *pdf, const gchar *family, gdouble size, gboolean bold)
{
	g_clear_pointer(&pdf->font, pango_font_description_free);
	pdf->font = pango_font_description_new();
	pango_font_description_set_family(pdf->font, family);
	pango_font_description_set_weight(pdf->font,
	                                  bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
	pango_font_description_set_absolute_size(pdf->font, size * PANGO_SCALE);
}

static void
fst_pdf_font(FstPdf *pdf, gdouble size, gboolean bold)
{
	fst_pdf_font_full(pdf, "Sans", size, bold);
}

static PangoLayout *
fst_pdf_layout(FstPdf *pdf, const gchar *text)
{
	PangoLayout *layout = pango_layout_new(pdf->context);
	/* device strings are validated UTF-8 on the way in */
	pango_layout_set_text(layout, g_utf8_validate(text, -1, NULL) ? text : "(not UTF-8)", -1);
	pango_layout_set_font_description(layout, pdf->font);
	pango_layout_set_single_paragraph_mode(layout, TRUE);
	return layout;
}

/* @text with its baseline at @y; in @width points (0: as wide as it is),
 * ellipsized at the end when it does not fit */
static void
fst_pdf_text(FstPdf *pdf, gdouble x, gdouble y, gdouble width, const gchar *text)
{
	g_autoptr(PangoLayout) layout = fst_pdf_layout(pdf, text);

	if (width > 0) {
		pango_layout_set_width(layout, (gint)((width - 4) * PANGO_SCALE));
		pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
	}
	cairo_move_to(pdf->cr, x, y - (gdouble)pango_layout_get_baseline(layout) / PANGO_SCALE);
	pango_cairo_show_layout(pdf->cr, layout);
}

/* @text whole in @width points: set smaller until it fits */
static void
fst_pdf_text_whole(FstPdf *pdf, gdouble x, gdouble y, gdouble width, const gchar *text)
{
	g_autoptr(PangoLayout) layout = fst_pdf_layout(pdf, text);
	g_autoptr(PangoFontDescription) font = pango_font_description_copy(pdf->font);
	gint size = pango_font_description_get_size(font);
	gint text_w = 0;

	pango_layout_get_size(layout, &text_w, NULL);
	while (text_w > (gint)((width - 4) * PANGO_SCALE) && size > 4 * PANGO_SCALE) {
		size -= PANGO_SCALE / 4;
		pango_font_description_set_absolute_size(font, size);
		pango_layout_set_font_description(layout, font);
		pango_layout_get_size(layout, &text_w, NULL);
	}
	cairo_move_to(pdf->cr, x, y - (gdouble)pango_layout_get_baseline(layout) / PANGO_SCALE);
	pango_cairo_show_layout(pdf->cr, layout);
}

static gdouble
fst_pdf_text_width(FstPdf *pdf, const gchar *text)
{
	g_autoptr(PangoLayout) layout = fst_pdf_layout(pdf, text);
	gint w = 0;
	pango_layout_get_size(layout, &w, NULL);
	return (gdouble)w / PANGO_SCALE;
}

static void
fst_pdf_footer(FstPdf *pdf, const FstReportSummary *sum)
{
	g_autofree gchar *text = g_strdup_printf("page %u of %u", pdf->page, pdf->pages);
	g_autofree gchar *left = g_strdup_printf("fleetstation report, database %s",
	                                         sum->database_id != NULL ? sum->database_id : "-");
	gdouble right_w;

	fst_pdf_font(pdf, 8, FALSE);
	right_w = fst_pdf_text_width(pdf, text);
	fst_pdf_text(pdf,
	             FST_PDF_MARGIN,
	             pdf->h - FST_PDF_FOOTER + 8,
	             pdf->w - 2 * FST_PDF_MARGIN - right_w - 8,
	             left);
	fst_pdf_text(pdf, pdf->w - FST_PDF_MARGIN - right_w, pdf->h - FST_PDF_FOOTER + 8, 0, text);
}

/* a table column's width on this paper */
static gdouble
fst_pdf_column_width(FstPdf *pdf, guint i)
{
	return fst_pdf_table[i].width * (pdf->w - 2 * FST_PDF_MARGIN) / FST_PDF_TABLE_W;
}

static void
fst_pdf_table_header(FstPdf *pdf)
{
	gdouble x = FST_PDF_MARGIN;

	fst_pdf_font(pdf, 8, TRUE);
	for (guint i = 0; i < G_N_ELEMENTS(fst_pdf_table); i++) {
		fst_pdf_text(pdf, x, pdf->y, fst_pdf_column_width(pdf, i), fst_pdf_table[i].title);
		x += fst_pdf_column_width(pdf, i);
	}
	cairo_move_to(pdf->cr, FST_PDF_MARGIN, pdf->y + 3);
	cairo_line_to(pdf->cr, pdf->w - FST_PDF_MARGIN, pdf->y + 3);
	cairo_set_line_width(pdf->cr, 0.5);
	cairo_stroke(pdf->cr);
	pdf->y += FST_PDF_ROW + 2;
}

static void
fst_pdf_table_row(FstPdf *pdf, gchar **row)
{
	gdouble x = FST_PDF_MARGIN;

	for (guint i = 0; i < G_N_ELEMENTS(fst_pdf_table); i++) {
		const gchar *cell = row[i][0] != '\0' ? row[i] : "-";
		gdouble width = fst_pdf_column_width(pdf, i);
		if (fst_pdf_table[i].whole) {
			/* digits of one width, so that serials line up */
			fst_pdf_font_full(pdf, "Monospace", 7, FALSE);
			fst_pdf_text_whole(pdf, x, pdf->y, width, cell);
		} else {
			fst_pdf_font(pdf, 7.5, FALSE);
			fst_pdf_text(pdf, x, pdf->y, width, cell);
		}
		x += width;
	}
	pdf->y += FST_PDF_ROW;
}

static gboolean
fst_pdf_collect(const gchar *const *cells, gpointer user_data, GError **error)
{
	GPtrArray *rows = user_data;
	gchar **row = g_new0(gchar *, G_N_ELEMENTS(fst_pdf_table) + 1);

	for (guint i = 0; i < G_N_ELEMENTS(fst_pdf_table); i++)
		row[i] = g_strdup(cells[fst_pdf_table[i].column]);
	g_ptr_array_add(rows, row);
	return TRUE;
}

/* the failures by class: how many, the class, examples and a message, the
 * last ellipsized at the margin */
static void
fst_pdf_failures(FstPdf *pdf, const FstReportSummary *sum, gdouble y, guint shown)
{
	gdouble text_w = pdf->w - 2 * FST_PDF_MARGIN;

	fst_pdf_font(pdf, 11, TRUE);
	fst_pdf_text(pdf, FST_PDF_MARGIN, y, 0, "Failures by class (error and step)");
	fst_pdf_font(pdf, 8, FALSE);
	if (sum->failures->len == 0)
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 13, 0, "none");
	for (guint i = 0; i < shown; i++) {
		FstReportFailure *f = g_ptr_array_index(sum->failures, i);
		g_autofree gchar *n = g_strdup_printf("%" G_GINT64_FORMAT, f->devices);
		g_autofree gchar *what = g_strdup_printf("%s at %s", f->error_code, f->step);
		g_autofree gchar *devices = g_strjoinv(", ", f->example_devices);
		g_autofree gchar *example =
		    g_strdup_printf("e.g. %s: %s", devices[0] != '\0' ? devices : "-", f->reason);
		g_strdelimit(example, "\n\t", ' ');
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 13 + 11 * i, 30, n);
		fst_pdf_text(pdf, FST_PDF_MARGIN + 30, y + 13 + 11 * i, 130, what);
		fst_pdf_text(pdf, FST_PDF_MARGIN + 160, y + 13 + 11 * i, text_w - 160, example);
	}
	if (sum->failures->len > shown) {
		g_autofree gchar *line = g_strdup_printf(
		    "and %u more classes (see the JSON export)", sum->failures->len - shown);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 13 + 11 * shown, 0, line);
	}
}

/* "Ana (120), Bob (6)": the first @max of @counts (element-type
 * FstReportCount), then how many more; @none names the devices with none */
static gchar *
fst_pdf_counts(GPtrArray *counts, guint max, const gchar *none)
{
	g_autoptr(GString) text = g_string_new(NULL);

	for (guint i = 0; i < counts->len && i < max; i++) {
		const FstReportCount *count = g_ptr_array_index(counts, i);
		g_string_append_printf(text,
		                       "%s%s (%" G_GINT64_FORMAT ")",
		                       i > 0 ? ", " : "",
		                       count->name != NULL ? count->name : none,
		                       count->devices);
	}
	if (counts->len > max)
		g_string_append_printf(
		    text, " and %u more (see the JSON export)", counts->len - max);
	if (counts->len == 0)
		g_string_append(text, "-");
	g_strdelimit(text->str, "\n\t", ' ');
	return g_string_free(g_steal_pointer(&text), FALSE);
}

/* the first page's header block; returns the y where the table starts */
static gdouble
fst_pdf_title(FstPdf *pdf, const FstReportSummary *sum, const FstReportScope *scope, gboolean draw)
{
	g_autofree gchar *first = fst_time_iso(sum->first_us);
	g_autofree gchar *last = fst_time_iso(sum->last_us);
	g_autofree gchar *now = fst_time_iso(g_get_real_time());
	g_autoptr(GString) line = g_string_new(NULL);
	gdouble y = FST_PDF_MARGIN + 14;
	gdouble text_w = pdf->w - 2 * FST_PDF_MARGIN;
	guint shown = MIN(sum->failures->len, FST_PDF_MAX_FAILURES);

	if (draw) {
		fst_pdf_font(pdf, 18, TRUE);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y, text_w, "Provisioning report");
	}
	y += 24;
	if (draw) {
		fst_pdf_font(pdf, 9, FALSE);
		g_string_printf(
		    line, "Station: %s", sum->stations[0] != '\0' ? sum->stations : "-");
		fst_pdf_text(pdf, FST_PDF_MARGIN, y, text_w, line->str);
		g_string_printf(line,
		                "Scope: lot %s, station %s",
		                scope != NULL && scope->lot != NULL ? scope->lot : "any",
		                scope != NULL && scope->station != NULL ? scope->station : "any");
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 13, text_w, line->str);
		g_autofree gchar *operators = fst_pdf_counts(sum->operators, 8, "not recorded");
		g_autofree gchar *lots = fst_pdf_counts(sum->lots, 8, "no lot");
		g_string_printf(line, "Period: %s to %s (devices last worked on)", first, last);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 26, text_w, line->str);
		g_string_printf(line, "Operators (devices): %s", operators);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 39, text_w, line->str);
		g_string_printf(line, "Lots (devices): %s", lots);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 52, text_w, line->str);
		g_string_printf(line,
		                "Generated: %s from database %s",
		                now,
		                sum->database_id != NULL ? sum->database_id : "-");
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 65, text_w, line->str);
		g_string_printf(line,
		                "Audit chain head then: event %s",
		                sum->audit_head != NULL ? sum->audit_head : "-");
		fst_pdf_font(pdf, 7, FALSE);
		fst_pdf_text_whole(pdf, FST_PDF_MARGIN, y + 78, text_w, line->str);
	}
	y += 101;
	if (draw) {
		fst_pdf_font(pdf, 11, TRUE);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y, 0, "Totals");
		fst_pdf_font(pdf, 9, FALSE);
		g_string_printf(line,
		                "%" G_GINT64_FORMAT " devices: %" G_GINT64_FORMAT
		                " provisioned, %" G_GINT64_FORMAT " failed, %" G_GINT64_FORMAT
		                " to re-work, %" G_GINT64_FORMAT " in progress",
		                sum->devices,
		                sum->provisioned,
		                sum->failed,
		                sum->rework,
		                sum->in_progress);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 14, text_w, line->str);
		g_string_printf(line, "Yield: %.1f %%", fst_report_yield(sum));
		fst_pdf_font(pdf, 9, TRUE);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y + 27, text_w, line->str);
	}
	y += 48;
	if (draw)
		fst_pdf_failures(pdf, sum, y, shown);
	y += 13 + 11 * (MAX(shown, 1) + (sum->failures->len > shown ? 1 : 0)) + 16;
	if (draw) {
		fst_pdf_font(pdf, 11, TRUE);
		fst_pdf_text(pdf, FST_PDF_MARGIN, y, 0, "Devices");
	}
	return y + 16;
}

/**
 * fst_report_paper_from_string:
 * @name: `a4` or `letter` (any case)
 * @paper: (out): the paper
 *
 * Returns: %TRUE for a known paper
 */
gboolean
fst_report_paper_from_string(const gchar *name, FstReportPaper *paper)
{
	if (g_ascii_strcasecmp(name, "a4") == 0) {
		*paper = FST_REPORT_PAPER_A4;
		return TRUE;
	}
	if (g_ascii_strcasecmp(name, "letter") == 0) {
		*paper = FST_REPORT_PAPER_LETTER;
		return TRUE;
	}
	return FALSE;
}

/* cairo's PDF stream into a FILE; a failed write stops the surface */
static cairo_status_t
fst_pdf_write_cb(void *closure, const unsigned char *data, unsigned int length)
{
	return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS
	                                                  : CAIRO_STATUS_WRITE_ERROR;
}

/**
 * fst_report_write_pdf:
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @out: where the PDF goes
 * @paper: A4 or Letter, portrait
 * @error: (nullable): return location for a #GError
 *
 * Writes the report for people: a title, the stations, scope and period,
 * the devices by operator and by lot, the totals and yield, the failures grouped by class, then a
 * per-device table (device, model, state, serial, certificate state, last update) over as many
 * pages as needed, each numbered "page N of M". Text is laid out with Pango: free text that does
 * not fit is ellipsized, serials and times are set smaller to fit whole; nothing is clipped.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_write_pdf(const gchar *db_path,
                     const FstReportScope *scope,
                     FILE *out,
                     FstReportPaper paper,
                     GError **error)
{
	g_autoptr(FstReportSummary) sum = fst_report_summary(db_path, scope, error);
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autoptr(cairo_surface_t) surface = NULL;
	g_autoptr(cairo_t) cr = NULL;
	FstPdf pdf = {0};
	gdouble table_y;
	guint first_rows;
	guint per_page;
	cairo_status_t status;

	if (sum == NULL)
		return FALSE;
	if (!fst_report_foreach(db_path, scope, fst_pdf_collect, rows, error))
		return FALSE;
	pdf.w = paper == FST_REPORT_PAPER_LETTER ? 612.0 : 595.0;
	pdf.h = paper == FST_REPORT_PAPER_LETTER ? 792.0 : 842.0;
	surface = cairo_pdf_surface_create_for_stream(fst_pdf_write_cb, out, pdf.w, pdf.h);
	cr = cairo_create(surface);
	pdf.cr = cr;
	pdf.fontmap = pango_cairo_font_map_new();
	pdf.context = pango_font_map_create_context(pdf.fontmap);
	pango_cairo_update_context(cr, pdf.context);

	/* how many pages, before drawing any, for "page N of M" */
	table_y = fst_pdf_title(&pdf, sum, scope, FALSE);
	first_rows =
	    (guint)((pdf.h - FST_PDF_FOOTER - FST_PDF_MARGIN / 2 - table_y) / FST_PDF_ROW) - 1;
	per_page = (guint)((pdf.h - FST_PDF_FOOTER - FST_PDF_MARGIN * 1.5) / FST_PDF_ROW) - 1;
	pdf.pages =
	    1 + (rows->len > first_rows ? (rows->len - first_rows + per_page - 1) / per_page : 0);

	cairo_set_source_rgb(cr, 0, 0, 0);
	pdf.page = 1;
	pdf.y = fst_pdf_title(&pdf, sum, scope, TRUE);
	fst_pdf_table_header(&pdf);
	for (guint r = 0, on_page = 0; r < rows->len; r++, on_page++) {
		if (on_page == (pdf.page == 1 ? first_rows : per_page)) {
			fst_pdf_footer(&pdf, sum);
			cairo_show_page(cr);
			pdf.page++;
			pdf.y = FST_PDF_MARGIN;
			on_page = 0;
			fst_pdf_table_header(&pdf);
		}
		fst_pdf_table_row(&pdf, g_ptr_array_index(rows, r));
	}
	fst_pdf_footer(&pdf, sum);
	cairo_show_page(cr);
	fst_pdf_clear(&pdf);
	g_clear_pointer(&cr, cairo_destroy);
	cairo_surface_finish(surface);
	status = cairo_surface_status(surface);
	if (status != CAIRO_STATUS_SUCCESS || fflush(out) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "writing the PDF report failed: %s: check the free space",
		            status != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(status)
		                                           : g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_report_export_file:
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @format: `csv`, `json` or `pdf`
 * @paper: pdf: A4 or Letter
 * @path: the file to write, which must not exist
 * @error: (nullable): return location for a #GError
 *
 * Writes the report to @path whole or not at all (#FstFileOut): a report
 * cut short by a full disk is never left under its name, where it would
 * pass for the whole report (a CSV missing its last rows reads as valid).
 *
 * Returns: %TRUE when @path holds the whole report
 */
gboolean
fst_report_export_file(const gchar *db_path,
                       const FstReportScope *scope,
                       const gchar *format,
                       FstReportPaper paper,
                       const gchar *path,
                       GError **error)
{
	g_autoptr(FstFileOut) file = fst_file_out_new(path, 0644, error);
	FILE *out;
	gboolean ok;

	if (file == NULL)
		return FALSE;
	out = fst_file_out_get_stream(file);
	if (g_strcmp0(format, "pdf") == 0)
		ok = fst_report_write_pdf(db_path, scope, out, paper, error);
	else if (g_strcmp0(format, "json") == 0)
		ok = fst_report_write_json(db_path, scope, out, error);
	else
		ok = fst_report_write_csv(db_path, scope, out, error);
	if (!ok) {
		/* a write that failed names the file; the database names itself */
		if (error != NULL && *error != NULL &&
		    !g_error_matches(*error, FST_ERROR, FST_ERROR_DATABASE))
			g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return fst_file_out_commit(file, error);
}

/* signing */

static gboolean
fst_report_ssl_error(GError **error, FstError code, const gchar *what)
{
	gulong e = ERR_get_error();
	gchar buf[256] = "unknown OpenSSL error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	g_set_error(error, FST_ERROR, code, "%s: %s", what, buf);
	return FALSE;
}

/* how long a report certificate lasts (cut to its issuer's end) */
#define FST_REPORT_CERT_DAYS (20 * 365)

/* whether a PEM key file is encrypted */
static gboolean
fst_report_key_is_encrypted(const gchar *path)
{
	g_autofree gchar *head = NULL;
	gsize len = 0;
	gboolean encrypted;

	if (!g_file_get_contents(path, &head, &len, NULL))
		return FALSE;
	encrypted = g_strstr_len(head, (gssize)MIN(len, 64), "ENCRYPTED") != NULL;
	OPENSSL_cleanse(head, len);
	return encrypted;
}

/* the report certificate: issued by the workspace root CA when its key is here */
static X509 *
fst_report_make_cert(const gchar *workspace,
                     const gchar *station_name,
                     EVP_PKEY *key,
                     const FstSecret *secret,
                     GError **error)
{
	g_autofree gchar *root_key_path =
	    g_build_filename(workspace, "ca", FST_CA_STORE_ROOT_KEY, NULL);
	g_autofree gchar *root_cert_path =
	    g_build_filename(workspace, "ca", FST_CA_STORE_ROOT_CERT, NULL);
	g_autofree gchar *cn = NULL;
	g_autoptr(EVP_PKEY) root_key = NULL;
	g_autoptr(GPtrArray) roots = NULL;

	if (g_file_test(root_key_path, G_FILE_TEST_EXISTS) &&
	    g_file_test(root_cert_path, G_FILE_TEST_EXISTS)) {
		roots = fst_ca_store_read_certs(root_cert_path, error);
		if (roots == NULL)
			return NULL;
		root_key = fst_ca_store_read_key(root_key_path, secret, error);
		if (root_key == NULL) {
			g_prefix_error(error, "issuing the report certificate: ");
			return NULL;
		}
		/* the root is the last certificate of root-ca.pem */
		cn = g_strdup_printf("fleetstation report signer %s", station_name);
		return fst_ca_store_make_signer_cert(key,
		                                     cn,
		                                     FST_REPORT_CERT_DAYS,
		                                     g_ptr_array_index(roots, roots->len - 1),
		                                     root_key,
		                                     error);
	}
	cn = g_strdup_printf("fleetstation report signer %s (self-signed)", station_name);
	return fst_ca_store_make_signer_cert(key, cn, FST_REPORT_CERT_DAYS, NULL, NULL, error);
}

/**
 * fst_report_ensure_key:
 * @workspace: the station workspace
 * @station_name: goes into the certificate subject
 * @secret: the passphrase of the workspace CA keys, which encrypts the key
 * @error: (nullable): return location for a #GError
 *
 * Makes the report signing key and its certificate in @workspace if they are
 * missing (see the top of this file); existing ones are kept, and a key
 * stored unencrypted is encrypted in place under @secret.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_ensure_key(const gchar *workspace,
                      const gchar *station_name,
                      const FstSecret *secret,
                      GError **error)
{
	g_autofree gchar *key_path = g_build_filename(workspace, FST_REPORT_KEY_FILE, NULL);
	g_autofree gchar *cert_path = g_build_filename(workspace, FST_REPORT_CERT_FILE, NULL);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) x509 = NULL;
	g_autoptr(BIO) cbio = NULL;
	BUF_MEM *mem = NULL;

	if (g_file_test(key_path, G_FILE_TEST_EXISTS)) {
		if (fst_report_key_is_encrypted(key_path))
			return TRUE;
		/* a clear key from an older version: encrypted in place, one rename */
		key = fst_ca_store_read_key(key_path, NULL, error);
		if (key == NULL)
			return FALSE;
		if (!fst_ca_store_write_key(key, key_path, secret, error))
			return FALSE;
		g_message("encrypted the report signing key %s with the CA passphrase", key_path);
		return TRUE;
	}
	key = fst_crypto_generate_key(FST_KEY_TYPE_EC_P256, error);
	if (key == NULL)
		return FALSE;
	x509 = fst_report_make_cert(workspace, station_name, key, secret, error);
	if (x509 == NULL)
		return FALSE;
	cbio = BIO_new(BIO_s_mem());
	if (cbio == NULL || PEM_write_bio_X509(cbio, x509) != 1 || BIO_get_mem_ptr(cbio, &mem) != 1)
		return fst_report_ssl_error(
		    error, FST_ERROR_INTERNAL, "encoding the report certificate");
	/* a certificate left without its key by an interrupted run is replaced */
	if (g_file_test(cert_path, G_FILE_TEST_EXISTS) && g_unlink(cert_path) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot replace %s: %s",
		            cert_path,
		            g_strerror(errno));
		return FALSE;
	}
	if (!fst_file_write_new(cert_path, mem->data, mem->length, 0644, error))
		return FALSE;
	return fst_ca_store_write_key(key, key_path, secret, error);
}

/* the report key and certificate, made or migrated first when the secret allows */
static gboolean
fst_report_load_key(const gchar *workspace,
                    FstInteraction *interaction,
                    EVP_PKEY **key,
                    X509 **cert,
                    GError **error)
{
	g_autofree gchar *key_path = g_build_filename(workspace, FST_REPORT_KEY_FILE, NULL);
	g_autofree gchar *cert_path = g_build_filename(workspace, FST_REPORT_CERT_FILE, NULL);
	g_autoptr(FstSecret) secret = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	if (!fst_station_ask_ca_secret(
	        workspace, interaction, key_path, "report signing", &secret, error))
		return FALSE;
	if (!fst_report_ensure_key(workspace, g_get_host_name(), secret, error))
		return FALSE;
	*key = fst_ca_store_read_key(key_path, secret, error);
	if (*key == NULL)
		return FALSE;
	certs = fst_ca_store_read_certs(cert_path, error);
	if (certs == NULL)
		return FALSE;
	if (X509_check_private_key(g_ptr_array_index(certs, 0), *key) != 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s is not the certificate of %s: put the matching pair back",
		            cert_path,
		            key_path);
		return FALSE;
	}
	*cert = X509_dup(g_ptr_array_index(certs, 0));
	return TRUE;
}

/* the detached PEM CMS signature of @content with a loaded report key */
static GBytes *
fst_report_cms_sign(EVP_PKEY *key, X509 *cert, GBytes *content, GError **error)
{
	g_autoptr(BIO) data = NULL;
	g_autoptr(BIO) out = NULL;
	g_autoptr(CMS_ContentInfo) cms = NULL;
	gsize len = 0;
	gconstpointer buf = g_bytes_get_data(content, &len);
	BUF_MEM *mem = NULL;

	data = BIO_new_mem_buf(len > 0 ? buf : "", (int)len);
	if (data == NULL) {
		fst_report_ssl_error(error, FST_ERROR_INTERNAL, "reading the content to sign");
		return NULL;
	}
	cms = CMS_sign(cert, key, NULL, data, CMS_DETACHED | CMS_BINARY);
	out = BIO_new(BIO_s_mem());
	if (cms == NULL || out == NULL || PEM_write_bio_CMS(out, cms) != 1 ||
	    BIO_get_mem_ptr(out, &mem) != 1) {
		fst_report_ssl_error(error, FST_ERROR_INTERNAL, "signing with the report key");
		return NULL;
	}
	return g_bytes_new(mem->data, mem->length);
}

/**
 * fst_report_sign_bytes:
 * @workspace: the station workspace with its report key
 * @interaction: (nullable): asks for the passphrase that unlocks the key, or
 *   %NULL for the station's default
 * @content: the exact bytes to sign
 * @error: (nullable): return location for a #GError
 *
 * Signs @content with the report key: a detached PEM CMS signature, as for a
 * report export (see the top of this file). Makes the key first if the
 * workspace has none.
 *
 * Returns: (transfer full): the signature, or %NULL with @error set
 */
GBytes *
fst_report_sign_bytes(const gchar *workspace,
                      FstInteraction *interaction,
                      GBytes *content,
                      GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;

	if (!fst_report_load_key(workspace, interaction, &key, &cert, error))
		return NULL;
	return fst_report_cms_sign(key, cert, content, error);
}

/* a signature is never written over a file or through a link */
static gboolean
fst_report_check_sig_path(const gchar *sig_path, GError **error)
{
	if (!g_file_test(sig_path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
		return TRUE;
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_CONFIG,
	            "%s exists: a signature is never overwritten, choose another name",
	            sig_path);
	return FALSE;
}

/* signs the exact bytes of @file with a loaded report key into @sig_path */
static gboolean
fst_report_sign_file(
    EVP_PKEY *key, X509 *cert, const gchar *file, const gchar *sig_path, GError **error)
{
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GMappedFile) mapped = NULL;
	g_autoptr(GBytes) content = NULL;
	gsize len = 0;
	gconstpointer data;

	if (!fst_report_check_sig_path(sig_path, error))
		return FALSE;
	mapped = g_mapped_file_new(file, FALSE, error);
	if (mapped == NULL) {
		fst_error_convert_gio(error);
		g_prefix_error(error, "opening the file to sign: ");
		return FALSE;
	}
	content = g_mapped_file_get_bytes(mapped);
	sig = fst_report_cms_sign(key, cert, content, error);
	if (sig == NULL)
		return FALSE;
	data = g_bytes_get_data(sig, &len);
	return fst_file_write_new(sig_path, data, len, 0644, error);
}

/**
 * fst_report_sign_full:
 * @workspace: the station workspace with its report key
 * @interaction: (nullable): asks for the passphrase of the key, or %NULL
 * @file: the export to sign
 * @sig_path: where the detached signature goes (PEM CMS); must not exist
 * @error: (nullable): return location for a #GError
 *
 * Signs the exact bytes of @file (see the top of this file). The signature
 * file is created, never overwritten, never written through a link.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_sign_full(const gchar *workspace,
                     FstInteraction *interaction,
                     const gchar *file,
                     const gchar *sig_path,
                     GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;

	if (!fst_report_check_sig_path(sig_path, error) ||
	    !fst_report_load_key(workspace, interaction, &key, &cert, error))
		return FALSE;
	return fst_report_sign_file(key, cert, file, sig_path, error);
}

/**
 * fst_report_export_signed:
 * @workspace: the station workspace with its report key
 * @interaction: (nullable): asks for the passphrase of the key, or %NULL
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @format: `csv`, `json` or `pdf`
 * @paper: pdf: A4 or Letter
 * @path: the report to write, which must not exist
 * @error: (nullable): return location for a #GError
 *
 * Writes the report to @path (fst_report_export_file()) and its detached
 * signature to `@path.sig`, both or neither: the report key is unlocked and
 * the signature's name checked free before anything is written, and a
 * report whose signature could not be written is removed. A signed report
 * asked for never stays unsigned under its name, where a re-run could not
 * write it again.
 *
 * Returns: %TRUE when @path and its signature are written
 */
gboolean
fst_report_export_signed(const gchar *workspace,
                         FstInteraction *interaction,
                         const gchar *db_path,
                         const FstReportScope *scope,
                         const gchar *format,
                         FstReportPaper paper,
                         const gchar *path,
                         GError **error)
{
	g_autofree gchar *sig_path = g_strdup_printf("%s.sig", path);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;

	if (!fst_report_check_sig_path(sig_path, error) ||
	    !fst_report_load_key(workspace, interaction, &key, &cert, error))
		return FALSE;
	if (!fst_report_export_file(db_path, scope, format, paper, path, error))
		return FALSE;
	if (!fst_report_sign_file(key, cert, path, sig_path, error)) {
		g_unlink(path);
		g_prefix_error(
		    error, "the report %s was not kept, since it could not be signed: ", path);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_report_sign:
 * @workspace: the station workspace with its report key
 * @file: the export to sign
 * @sig_path: where the detached signature goes (PEM CMS); must not exist
 * @error: (nullable): return location for a #GError
 *
 * fst_report_sign_full() with the station's default interaction.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_sign(const gchar *workspace, const gchar *file, const gchar *sig_path, GError **error)
{
	return fst_report_sign_full(workspace, NULL, file, sig_path, error);
}

/**
 * fst_report_verify:
 * @cert_path: the report certificate the signature must come from
 * @file: the signed export
 * @sig_path: its detached signature (PEM or DER CMS)
 * @error: (nullable): return location for a #GError
 *
 * Checks that @sig_path is a valid signature over the exact bytes of @file
 * by the key of @cert_path. Fails with %FST_ERROR_VERIFY_FAILED when a byte
 * changed or another key signed.
 *
 * Returns: %TRUE when the signature is good
 */
gboolean
fst_report_verify(const gchar *cert_path, const gchar *file, const gchar *sig_path, GError **error)
{
	g_autoptr(BIO) cbio = BIO_new_file(cert_path, "r");
	g_autoptr(BIO) sbio = NULL;
	g_autoptr(BIO) data = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(CMS_ContentInfo) cms = NULL;
	g_autofree gchar *what = NULL;

	if (cbio == NULL || (cert = PEM_read_bio_X509(cbio, NULL, NULL, NULL)) == NULL)
		return fst_report_ssl_error(
		    error, FST_ERROR_CONFIG, "reading the report certificate");
	sbio = BIO_new_file(sig_path, "rb");
	if (sbio == NULL)
		return fst_report_ssl_error(error, FST_ERROR_NOT_FOUND, "opening the signature");
	cms = PEM_read_bio_CMS(sbio, NULL, NULL, NULL);
	if (cms == NULL) {
		ERR_clear_error();
		(void)BIO_reset(sbio);
		cms = d2i_CMS_bio(sbio, NULL);
	}
	if (cms == NULL)
		return fst_report_ssl_error(error, FST_ERROR_INVALID_DATA, "reading the signature");
	data = BIO_new_file(file, "rb");
	if (data == NULL)
		return fst_report_ssl_error(error, FST_ERROR_NOT_FOUND, "opening the signed file");
	if (store == NULL || X509_STORE_add_cert(store, cert) != 1)
		return fst_report_ssl_error(
		    error, FST_ERROR_INTERNAL, "loading the report certificate");
	/* the report certificate itself is the trust anchor, whoever issued it */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (CMS_verify(cms, NULL, store, data, NULL, CMS_BINARY) != 1) {
		what = g_strdup_printf("%s does not match its signature %s (a byte changed, or "
		                       "another key signed it)",
		                       file,
		                       sig_path);
		return fst_report_ssl_error(error, FST_ERROR_VERIFY_FAILED, what);
	}
	return TRUE;
}
