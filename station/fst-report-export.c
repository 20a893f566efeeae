/*
 * Report exports beside the CSV of db/fst-report.c: JSON (json-glib), PDF
 * (cairo) and the detached CMS signature of any export with the station's
 * report key.
 *
 * Report key: WORKSPACE/report-key.pem (EC P-256, PKCS#8 PEM, mode 0600) and
 * WORKSPACE/report-cert.pem (its self-signed certificate, "fleetstation
 * report signer <station>", 20 years), made with the workspace. A signature
 * is PEM CMS (RFC 5652) SignedData, detached, over the exact bytes of the
 * file (binary mode), signed with SHA-256, the signer certificate included.
 * Anyone can check it with OpenSSL:
 *
 *   openssl cms -verify -binary -inform PEM -in report.csv.sig \
 *     -content report.csv -CAfile WORKSPACE/report-cert.pem -out /dev/null
 */

#define G_LOG_DOMAIN "FstReport"

#include "fst-report-export.h"

#include <cairo-pdf.h>
#include <errno.h>
#include <json-glib/json-glib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <string.h>

#include "fst-cairo-common.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-secret.h"


static gchar *
fst_report_iso(gint64 us)
{
	g_autoptr(GDateTime) dt = NULL;

	if (us <= 0)
		return g_strdup("-");
	dt = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("-");
}

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

/* the summary as a JSON object */
static JsonNode *
fst_report_summary_to_json(const FstReportSummary *sum, const FstReportScope *scope)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree gchar *first = fst_report_iso(sum->first_us);
	g_autofree gchar *last = fst_report_iso(sum->last_us);
	g_autofree gchar *now = fst_report_iso(g_get_real_time());

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
	json_builder_set_member_name(b, "failures");
	json_builder_begin_array(b);
	for (guint i = 0; i < sum->failures->len; i++) {
		FstReportFailure *f = g_ptr_array_index(sum->failures, i);
		json_builder_begin_object(b);
		fst_report_json_member_str(b, "reason", f->reason);
		fst_report_json_member_int(b, "devices", f->devices);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
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
 * devices, provisioned, failed, rework, in_progress, yield_percent and
 * failures [{reason, devices}]; each device object has the columns of
 * fst-report.h as string members ("" when unknown). Rows are streamed.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_write_json(const gchar *db_path,
                      const FstReportScope *scope,
                      FILE *out,
                      GError **error)
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

/* PDF: A4 portrait, in points */
#define FST_PDF_W 595.0
#define FST_PDF_H 842.0
#define FST_PDF_MARGIN 40.0
#define FST_PDF_ROW 11.0
#define FST_PDF_FOOTER 24.0
#define FST_PDF_MAX_FAILURES 12

/* the per-device table: report column index, title, width */
static const struct {
	guint column;
	const gchar *title;
	gdouble width;
} fst_pdf_table[] = {
    {0, "Device", 105},
    {1, "Model", 60},
    {7, "State", 58},
    {9, "Serial", 150},
    {11, "Certificate", 52},
    {16, "Updated (UTC)", 90},
};

typedef struct {
	cairo_t *cr;
	guint page;
	guint pages;
	gdouble y;
} FstPdf;

static void
fst_pdf_text(cairo_t *cr, gdouble x, gdouble y, gdouble width, const gchar *text)
{
	/* device strings are validated UTF-8 on the way in; cut what is too wide */
	cairo_save(cr);
	if (width > 0) {
		cairo_rectangle(cr, x, y - 10, width - 4, 14);
		cairo_clip(cr);
	}
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, g_utf8_validate(text, -1, NULL) ? text : "(not UTF-8)");
	cairo_restore(cr);
}

static void
fst_pdf_font(cairo_t *cr, gdouble size, gboolean bold)
{
	cairo_select_font_face(cr,
	                       "sans-serif",
	                       CAIRO_FONT_SLANT_NORMAL,
	                       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
}

static void
fst_pdf_footer(FstPdf *pdf, const FstReportSummary *sum)
{
	g_autofree gchar *text = g_strdup_printf("page %u of %u", pdf->page, pdf->pages);
	g_autofree gchar *left = g_strdup_printf("fleetstation report, database %s",
	                                         sum->database_id != NULL ? sum->database_id : "-");
	cairo_text_extents_t ext;

	fst_pdf_font(pdf->cr, 8, FALSE);
	cairo_text_extents(pdf->cr, text, &ext);
	fst_pdf_text(pdf->cr, FST_PDF_MARGIN, FST_PDF_H - FST_PDF_FOOTER + 8, 0, left);
	fst_pdf_text(pdf->cr,
	             FST_PDF_W - FST_PDF_MARGIN - ext.x_advance,
	             FST_PDF_H - FST_PDF_FOOTER + 8,
	             0,
	             text);
}

static void
fst_pdf_table_header(FstPdf *pdf)
{
	gdouble x = FST_PDF_MARGIN;

	fst_pdf_font(pdf->cr, 8, TRUE);
	for (guint i = 0; i < G_N_ELEMENTS(fst_pdf_table); i++) {
		fst_pdf_text(pdf->cr, x, pdf->y, fst_pdf_table[i].width, fst_pdf_table[i].title);
		x += fst_pdf_table[i].width;
	}
	cairo_move_to(pdf->cr, FST_PDF_MARGIN, pdf->y + 3);
	cairo_line_to(pdf->cr, FST_PDF_W - FST_PDF_MARGIN, pdf->y + 3);
	cairo_set_line_width(pdf->cr, 0.5);
	cairo_stroke(pdf->cr);
	pdf->y += FST_PDF_ROW + 2;
	fst_pdf_font(pdf->cr, 7.5, FALSE);
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

/* the first page's header block; returns the y where the table starts */
static gdouble
fst_pdf_title(cairo_t *cr, const FstReportSummary *sum, const FstReportScope *scope, gboolean draw)
{
	g_autofree gchar *first = fst_report_iso(sum->first_us);
	g_autofree gchar *last = fst_report_iso(sum->last_us);
	g_autofree gchar *now = fst_report_iso(g_get_real_time());
	g_autoptr(GString) line = g_string_new(NULL);
	gdouble y = FST_PDF_MARGIN + 14;
	guint shown = MIN(sum->failures->len, FST_PDF_MAX_FAILURES);

	if (draw) {
		fst_pdf_font(cr, 18, TRUE);
		fst_pdf_text(cr, FST_PDF_MARGIN, y, 0, "Provisioning report");
	}
	y += 24;
	if (draw) {
		fst_pdf_font(cr, 9, FALSE);
		g_string_printf(line, "Station: %s", sum->stations[0] != '\0' ? sum->stations : "-");
		fst_pdf_text(cr, FST_PDF_MARGIN, y, 0, line->str);
		g_string_printf(line,
		                "Scope: lot %s, station %s",
		                scope != NULL && scope->lot != NULL ? scope->lot : "any",
		                scope != NULL && scope->station != NULL ? scope->station : "any");
		fst_pdf_text(cr, FST_PDF_MARGIN, y + 13, 0, line->str);
		g_string_printf(line, "Period: %s to %s (devices last worked on)", first, last);
		fst_pdf_text(cr, FST_PDF_MARGIN, y + 26, 0, line->str);
		g_string_printf(line,
		                "Generated: %s from database %s",
		                now,
		                sum->database_id != NULL ? sum->database_id : "-");
		fst_pdf_text(cr, FST_PDF_MARGIN, y + 39, 0, line->str);
		g_string_printf(line,
		                "Audit chain head then: event %s",
		                sum->audit_head != NULL ? sum->audit_head : "-");
		fst_pdf_font(cr, 7, FALSE);
		fst_pdf_text(cr, FST_PDF_MARGIN, y + 52, FST_PDF_W - 2 * FST_PDF_MARGIN, line->str);
	}
	y += 75;
	if (draw) {
		fst_pdf_font(cr, 11, TRUE);
		fst_pdf_text(cr, FST_PDF_MARGIN, y, 0, "Totals");
		fst_pdf_font(cr, 9, FALSE);
		g_string_printf(line,
		                "%" G_GINT64_FORMAT " devices: %" G_GINT64_FORMAT
		                " provisioned, %" G_GINT64_FORMAT " failed, %" G_GINT64_FORMAT
		                " to re-work, %" G_GINT64_FORMAT " in progress",
		                sum->devices,
		                sum->provisioned,
		                sum->failed,
		                sum->rework,
		                sum->in_progress);
		fst_pdf_text(cr, FST_PDF_MARGIN, y + 14, 0, line->str);
		g_string_printf(line, "Yield: %.1f %%", fst_report_yield(sum));
		fst_pdf_font(cr, 9, TRUE);
		fst_pdf_text(cr, FST_PDF_MARGIN, y + 27, 0, line->str);
	}
	y += 48;
	if (draw) {
		fst_pdf_font(cr, 11, TRUE);
		fst_pdf_text(cr, FST_PDF_MARGIN, y, 0, "Failures by reason");
		fst_pdf_font(cr, 8, FALSE);
		if (sum->failures->len == 0)
			fst_pdf_text(cr, FST_PDF_MARGIN, y + 13, 0, "none");
		for (guint i = 0; i < shown; i++) {
			FstReportFailure *f = g_ptr_array_index(sum->failures, i);
			g_autofree gchar *n = g_strdup_printf("%" G_GINT64_FORMAT, f->devices);
			g_autofree gchar *one = g_strdelimit(g_strdup(f->reason), "\n\t", ' ');
			fst_pdf_text(cr, FST_PDF_MARGIN, y + 13 + 11 * i, 40, n);
			fst_pdf_text(cr,
			             FST_PDF_MARGIN + 40,
			             y + 13 + 11 * i,
			             FST_PDF_W - 2 * FST_PDF_MARGIN - 40,
			             one);
		}
		if (sum->failures->len > shown) {
			g_string_printf(line,
			                "and %u more reasons (see the CSV or JSON export)",
			                sum->failures->len - shown);
			fst_pdf_text(cr, FST_PDF_MARGIN, y + 13 + 11 * shown, 0, line->str);
		}
	}
	y += 13 + 11 * (MAX(shown, 1) + (sum->failures->len > shown ? 1 : 0)) + 16;
	if (draw) {
		fst_pdf_font(cr, 11, TRUE);
		fst_pdf_text(cr, FST_PDF_MARGIN, y, 0, "Devices");
	}
	return y + 16;
}

/**
 * fst_report_write_pdf:
 * @db_path: the station database
 * @scope: (nullable): the devices to report
 * @pdf_path: the PDF file to write
 * @error: (nullable): return location for a #GError
 *
 * Writes the report for people: A4, a title, the stations, scope and period,
 * the totals and yield, the failures grouped by reason, then a per-device
 * table (device, model, state, serial, certificate state, last update) over
 * as many pages as needed, each numbered "page N of M".
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_write_pdf(const gchar *db_path,
                     const FstReportScope *scope,
                     const gchar *pdf_path,
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
	surface = cairo_pdf_surface_create(pdf_path, FST_PDF_W, FST_PDF_H);
	cr = cairo_create(surface);
	pdf.cr = cr;

	/* how many pages, before drawing any, for "page N of M" */
	table_y = fst_pdf_title(cr, sum, scope, FALSE);
	first_rows = (guint)((FST_PDF_H - FST_PDF_FOOTER - FST_PDF_MARGIN / 2 - table_y) / FST_PDF_ROW) - 1;
	per_page = (guint)((FST_PDF_H - FST_PDF_FOOTER - FST_PDF_MARGIN * 1.5) / FST_PDF_ROW) - 1;
	pdf.pages = 1 + (rows->len > first_rows ? (rows->len - first_rows + per_page - 1) / per_page
	                                        : 0);

	cairo_set_source_rgb(cr, 0, 0, 0);
	pdf.page = 1;
	pdf.y = fst_pdf_title(cr, sum, scope, TRUE);
	fst_pdf_table_header(&pdf);
	for (guint r = 0, on_page = 0; r < rows->len; r++, on_page++) {
		gchar **row = g_ptr_array_index(rows, r);
		gdouble x = FST_PDF_MARGIN;
		if (on_page == (pdf.page == 1 ? first_rows : per_page)) {
			fst_pdf_footer(&pdf, sum);
			cairo_show_page(cr);
			pdf.page++;
			pdf.y = FST_PDF_MARGIN;
			on_page = 0;
			fst_pdf_table_header(&pdf);
		}
		for (guint i = 0; i < G_N_ELEMENTS(fst_pdf_table); i++) {
			fst_pdf_text(cr, x, pdf.y, fst_pdf_table[i].width, row[i][0] ? row[i] : "-");
			x += fst_pdf_table[i].width;
		}
		pdf.y += FST_PDF_ROW;
	}
	fst_pdf_footer(&pdf, sum);
	cairo_show_page(cr);
	g_clear_pointer(&cr, cairo_destroy);
	cairo_surface_finish(surface);
	status = cairo_surface_status(surface);
	if (status != CAIRO_STATUS_SUCCESS) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "writing the PDF report %s failed: %s: check the path and free space",
		            pdf_path,
		            cairo_status_to_string(status));
		return FALSE;
	}
	return TRUE;
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

/**
 * fst_report_ensure_key:
 * @workspace: the station workspace
 * @station_name: goes into the certificate subject
 * @error: (nullable): return location for a #GError
 *
 * Makes the report signing key (EC P-256, mode 0600) and its self-signed
 * certificate in @workspace if they are missing; existing ones are kept.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_ensure_key(const gchar *workspace, const gchar *station_name, GError **error)
{
	g_autofree gchar *key_path = g_build_filename(workspace, FST_REPORT_KEY_FILE, NULL);
	g_autofree gchar *cert_path = g_build_filename(workspace, FST_REPORT_CERT_FILE, NULL);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) x509 = NULL;
	g_autoptr(BIO) kbio = NULL;
	g_autoptr(BIO) cbio = NULL;
	g_autofree gchar *cn = NULL;
	guint8 serial[16];
	g_autoptr(BIGNUM) bn = NULL;
	X509_NAME *name;
	BUF_MEM *mem = NULL;
	gboolean ok;

	if (g_file_test(key_path, G_FILE_TEST_EXISTS) && g_file_test(cert_path, G_FILE_TEST_EXISTS))
		return TRUE;
	key = EVP_EC_gen("P-256");
	x509 = X509_new();
	if (key == NULL || x509 == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		return fst_report_ssl_error(error, FST_ERROR_INTERNAL, "making the report key");
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	cn = g_strdup_printf("fleetstation report signer %s", station_name);
	name = X509_get_subject_name(x509);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)) == NULL ||
	    X509_set_version(x509, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x509), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x509), 20L * 365 * 24 * 3600) == NULL ||
	    X509_NAME_add_entry_by_txt(
	        name, "CN", MBSTRING_UTF8, (const guchar *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x509, name) != 1 || X509_set_pubkey(x509, key) != 1 ||
	    X509_sign(x509, key, EVP_sha256()) <= 0)
		return fst_report_ssl_error(error, FST_ERROR_INTERNAL, "making the report certificate");

	/* the key: PKCS#8 PEM, written 0600 and wiped from memory */
	kbio = BIO_new(BIO_s_mem());
	if (kbio == NULL || PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL) != 1)
		return fst_report_ssl_error(error, FST_ERROR_INTERNAL, "encoding the report key");
	BIO_get_mem_ptr(kbio, &mem);
	ok = fst_file_set_contents_private(key_path, (const guint8 *)mem->data, mem->length, error);
	OPENSSL_cleanse(mem->data, mem->length);
	if (!ok)
		return FALSE;
	cbio = BIO_new_file(cert_path, "w");
	if (cbio == NULL || PEM_write_bio_X509(cbio, x509) != 1)
		return fst_report_ssl_error(error, FST_ERROR_PERMISSION_DENIED, "writing the report certificate");
	return TRUE;
}

/**
 * fst_report_sign:
 * @workspace: the station workspace with its report key
 * @file: the export to sign
 * @sig_path: where the detached signature goes (PEM CMS); must not exist
 * @error: (nullable): return location for a #GError
 *
 * Signs the exact bytes of @file (see the top of this file).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_report_sign(const gchar *workspace, const gchar *file, const gchar *sig_path, GError **error)
{
	g_autofree gchar *key_path = g_build_filename(workspace, FST_REPORT_KEY_FILE, NULL);
	g_autofree gchar *cert_path = g_build_filename(workspace, FST_REPORT_CERT_FILE, NULL);
	g_autoptr(BIO) kbio = NULL;
	g_autoptr(BIO) cbio = NULL;
	g_autoptr(BIO) data = NULL;
	g_autoptr(BIO) out = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(CMS_ContentInfo) cms = NULL;

	kbio = BIO_new_file(key_path, "r");
	cbio = BIO_new_file(cert_path, "r");
	if (kbio == NULL || cbio == NULL) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "no report key in %s (%s, %s): run `fleetstation demo` or "
		            "`fleetstation init` on this workspace to make one",
		            workspace,
		            FST_REPORT_KEY_FILE,
		            FST_REPORT_CERT_FILE);
		return FALSE;
	}
	key = PEM_read_bio_PrivateKey(kbio, NULL, NULL, NULL);
	cert = PEM_read_bio_X509(cbio, NULL, NULL, NULL);
	if (key == NULL || cert == NULL)
		return fst_report_ssl_error(error, FST_ERROR_CONFIG, "reading the report key");
	data = BIO_new_file(file, "rb");
	if (data == NULL)
		return fst_report_ssl_error(error, FST_ERROR_NOT_FOUND, "opening the file to sign");
	cms = CMS_sign(cert, key, NULL, data, CMS_DETACHED | CMS_BINARY);
	if (cms == NULL)
		return fst_report_ssl_error(error, FST_ERROR_INTERNAL, "signing the report");
	if (g_file_test(sig_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s exists: a signature is never overwritten, choose another name",
		            sig_path);
		return FALSE;
	}
	out = BIO_new_file(sig_path, "w");
	if (out == NULL || PEM_write_bio_CMS(out, cms) != 1)
		return fst_report_ssl_error(error, FST_ERROR_PERMISSION_DENIED, "writing the signature");
	return TRUE;
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
		return fst_report_ssl_error(error, FST_ERROR_CONFIG, "reading the report certificate");
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
		return fst_report_ssl_error(error, FST_ERROR_INTERNAL, "loading the report certificate");
	if (CMS_verify(cms, NULL, store, data, NULL, CMS_BINARY) != 1) {
		what = g_strdup_printf("%s does not match its signature %s (a byte changed, or "
		                       "another key signed it)",
		                       file,
		                       sig_path);
		return fst_report_ssl_error(error, FST_ERROR_VERIFY_FAILED, what);
	}
	return TRUE;
}
