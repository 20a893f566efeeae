/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batch manifests: a list of the devices a line must provision, run as gangs
 * and reported per row. Re-running a manifest skips the rows done before
 * (the database says the device is provisioned; under a profile that
 * re-provisions returning devices, that its certificate in service was issued
 * for the row's lot, which such a manifest must give) and resumes the others.
 *
 * Formats (chosen by the first non-blank character: `{` or `[` is JSON):
 *
 * CSV (RFC 4180, as spreadsheets write it), one header line naming the
 * columns, then one row per line; blank lines and lines starting with `#` are
 * ignored, a UTF-8 byte order mark and CRLF line ends are accepted. The
 * separator is the comma, or the semicolon (spreadsheets in locales whose
 * decimal mark is the comma) or the tab, whichever the header line uses most.
 * A field may be quoted: `"SN,01"` holds a comma, `"say ""hi"""` a quote, and
 * a quoted field may span lines (a multi-line cell); text after its closing
 * quote is an error. Columns other than the four below are ignored, with a
 * note (a spreadsheet's notes column); a line break is refused only in a
 * value the manifest uses:
 *
 *   device,port,profile,lot
 *   SN-0001,/dev/ttyUSB0,aws-iot-ecc,LOT-7
 *   SN-0002,,,
 *   ,/dev/ttyUSB2,,
 *
 * JSON, an object with optional manifest-wide `profile` and `lot` and a
 * `devices` array of row objects (or just that array):
 *
 *   {"profile": "aws-iot-ecc", "lot": "LOT-7",
 *    "devices": [{"device": "SN-0001", "port": "/dev/ttyUSB0"}, {"port": "/dev/ttyUSB2"}]}
 *
 * Columns / members: `device` (the id the device must report), `port`, `profile`,
 * `lot`; every row needs a device or a port. A row with both is checked: another
 * device on that port is refused. A row with a port only takes the device found
 * there. A row with a device only is looked for on the ports the caller gives
 * (--port, --all-ports, the workspace's). Empty values take the manifest's, then
 * the caller's defaults. Limits: 10000 rows, 4096 bytes per value, UTF-8
 * without control characters. Documented for operators in README.md.
 */

#define G_LOG_DOMAIN "FstBatch"

#include "fst-batch.h"

#include <json-glib/json-glib.h>

#include "fst-error.h"
#include "fst-file.h"

#define FST_BATCH_MAX_ROWS 10000
#define FST_BATCH_MAX_VALUE 4096
#define FST_BATCH_MAX_FILE (16 * 1024 * 1024)
/* a manifest nests three deep: object, devices array, row object */
#define FST_BATCH_MAX_JSON_DEPTH 32

/**
 * fst_batch_status_to_string:
 * @status: a row status
 *
 * Returns: (transfer none): its name in reports: pending, skipped,
 * provisioned, failed or missing
 */
const gchar *
fst_batch_status_to_string(FstBatchStatus status)
{
	switch (status) {
	case FST_BATCH_PENDING:
		return "pending";
	case FST_BATCH_SKIPPED:
		return "skipped";
	case FST_BATCH_PROVISIONED:
		return "provisioned";
	case FST_BATCH_FAILED:
		return "failed";
	case FST_BATCH_MISSING:
		return "missing";
	default:
		break;
	}
	return "unknown";
}

static void
fst_batch_row_free(FstBatchRow *row)
{
	g_free(row->device);
	g_free(row->port);
	g_free(row->profile);
	g_free(row->lot);
	g_free(row->uid);
	g_free(row->serial_hex);
	g_clear_error(&row->error);
	g_free(row);
}

/**
 * fst_batch_free:
 * @self: (nullable): a manifest
 */
void
fst_batch_free(FstBatch *self)
{
	if (self == NULL)
		return;
	g_free(self->path);
	g_ptr_array_unref(self->rows);
	g_free(self);
}

/* a value from the manifest: bounded, UTF-8, no control characters; "" is NULL */
static gboolean
fst_batch_value(const gchar *path,
                guint line,
                const gchar *column,
                const gchar *raw,
                gchar **out,
                GError **error)
{
	g_autofree gchar *value = g_strstrip(g_strdup(raw));
	*out = NULL;
	if (strlen(value) > FST_BATCH_MAX_VALUE || !g_utf8_validate(value, -1, NULL)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s:%u: the %s value is too long or not UTF-8",
		            path,
		            line,
		            column);
		return FALSE;
	}
	for (const gchar *p = value; *p != '\0'; p++) {
		if ((guchar)*p < 0x20 || *p == 0x7f) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s:%u: the %s value holds a control character",
			            path,
			            line,
			            column);
			return FALSE;
		}
	}
	if (value[0] != '\0')
		*out = g_steal_pointer(&value);
	return TRUE;
}

static gboolean
fst_batch_add_row(FstBatch *self, FstBatchRow *row, GError **error)
{
	if (row->device == NULL && row->port == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s:%u: the row needs a device or a port",
		            self->path,
		            row->line);
		fst_batch_row_free(row);
		return FALSE;
	}
	if (self->rows->len >= FST_BATCH_MAX_ROWS) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: more than %d rows: split the manifest",
		            self->path,
		            FST_BATCH_MAX_ROWS);
		fst_batch_row_free(row);
		return FALSE;
	}
	/* one device id and one port appear once: a repeat is a typo that would
	 * otherwise show as a confusing skip */
	for (guint i = 0; i < self->rows->len; i++) {
		FstBatchRow *other = g_ptr_array_index(self->rows, i);
		const gchar *what = NULL;
		if (row->device != NULL && g_strcmp0(row->device, other->device) == 0)
			what = row->device;
		else if (row->port != NULL && g_strcmp0(row->port, other->port) == 0)
			what = row->port;
		if (what != NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s:%u: %s is already on line %u",
			            self->path,
			            row->line,
			            what,
			            other->line);
			fst_batch_row_free(row);
			return FALSE;
		}
	}
	g_ptr_array_add(self->rows, row);
	return TRUE;
}

/* the field separator of a CSV manifest, from its header line: a comma, or
 * the semicolon spreadsheets write where the comma is the decimal mark
 * (German, French locales), or a tab; whichever appears most outside quotes */
static gchar
fst_batch_csv_delimiter(const gchar *data)
{
	const gchar *p = data;
	guint commas = 0;
	guint semicolons = 0;
	guint tabs = 0;
	gboolean quoted = FALSE;

	/* the header: the first line neither blank nor a comment */
	for (;;) {
		const gchar *q = p;
		while (*q == ' ' || *q == '\t' || *q == '\r')
			q++;
		if (*q == '\n') {
			p = q + 1;
			continue;
		}
		if (*q == '#') {
			const gchar *nl = strchr(q, '\n');
			if (nl == NULL)
				return ',';
			p = nl + 1;
			continue;
		}
		break;
	}
	for (; *p != '\0' && (quoted || *p != '\n'); p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ',')
			commas++;
		else if (!quoted && *p == ';')
			semicolons++;
		else if (!quoted && *p == '\t')
			tabs++;
	}
	if (semicolons > commas && semicolons >= tabs)
		return ';';
	if (tabs > commas && tabs > semicolons)
		return '\t';
	return ',';
}

/* skips blank and comment lines at *@p; returns FALSE at the end of the data */
static gboolean
fst_batch_csv_skip(const gchar **p_inout, guint *line_no)
{
	const gchar *p = *p_inout;

	for (;;) {
		const gchar *q = p;
		while (*q == ' ' || *q == '\t' || *q == '\r')
			q++;
		if (*q == '#')
			q += strcspn(q, "\n");
		if (*q == '\0') {
			*p_inout = q;
			return FALSE;
		}
		if (*q != '\n')
			break;
		p = q + 1;
		(*line_no)++;
	}
	*p_inout = p;
	return TRUE;
}

/* one quoted field at *@p (on its opening quote): doubled quotes, the
 * separator and line breaks (a multi-line cell, \n whatever the file's) */
static gboolean
fst_batch_csv_quoted(const gchar *path,
                     gchar delim,
                     const gchar **p_inout,
                     guint *line_no,
                     guint record_line,
                     guint field_no,
                     GString *field,
                     GError **error)
{
	const gchar *p = *p_inout;

	for (p++;; p++) {
		if (*p == '\0') {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s:%u: a quoted field has no closing quote",
			            path,
			            record_line);
			return FALSE;
		}
		if (*p == '"') {
			if (p[1] != '"')
				break;
			p++;
		}
		if (*p == '\n')
			(*line_no)++;
		if (*p == '\r' && p[1] == '\n')
			continue;
		g_string_append_c(field, *p);
	}
	for (p++; *p == ' ' || (*p == '\t' && delim != '\t') || *p == '\r'; p++)
		;
	if (*p != delim && *p != '\n' && *p != '\0') {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s:%u: text after the closing quote of field %u: quote the whole "
		            "field, and double a quote inside it",
		            path,
		            *line_no,
		            field_no);
		return FALSE;
	}
	*p_inout = p;
	return TRUE;
}

/* reads one CSV record at *@p into fields (RFC 4180), after the blank and
 * comment lines before it. @line_no is the line *@p is on, and ends on the
 * line after the record; @record_line gets the line the record starts on.
 * Returns %NULL without @error at the end of the data */
static GStrv
fst_batch_csv_record(const gchar *path,
                     gchar delim,
                     const gchar **p_inout,
                     guint *line_no,
                     guint *record_line,
                     GError **error)
{
	g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
	const gchar stops[] = {delim, '\n', '\0'};
	const gchar *p = *p_inout;

	if (!fst_batch_csv_skip(&p, line_no)) {
		*p_inout = p;
		return NULL;
	}
	*record_line = *line_no;
	for (;;) {
		g_autoptr(GString) field = g_string_new(NULL);
		while (*p == ' ' || (*p == '\t' && delim != '\t'))
			p++;
		if (*p == '"') {
			if (!fst_batch_csv_quoted(path,
			                          delim,
			                          &p,
			                          line_no,
			                          *record_line,
			                          fields->len + 1,
			                          field,
			                          error))
				return NULL;
		} else {
			gsize len = strcspn(p, stops);
			if (memchr(p, '"', len) != NULL) {
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_INVALID_DATA,
				            "%s:%u: a quote inside unquoted field %u: quote the "
				            "whole field, and double a quote inside it",
				            path,
				            *line_no,
				            fields->len + 1);
				return NULL;
			}
			g_string_append_len(field, p, (gssize)len);
			p += len;
			/* a CRLF line end */
			if (field->len > 0 && field->str[field->len - 1] == '\r')
				g_string_truncate(field, field->len - 1);
		}
		g_ptr_array_add(fields, g_string_free(g_steal_pointer(&field), FALSE));
		if (*p != delim)
			break;
		p++;
	}
	if (*p == '\n') {
		p++;
		(*line_no)++;
	}
	*p_inout = p;
	g_ptr_array_add(fields, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&fields), FALSE);
}

static const gchar *const fst_batch_columns[] = {"device", "port", "profile", "lot"};

/* the header's columns; one the manifest does not use is ignored, with a note */
static gboolean
fst_batch_csv_header(FstBatch *self, GStrv fields, guint line, gint cols[4], GError **error)
{
	for (guint c = 0; fields[c] != NULL; c++) {
		g_autofree gchar *name = g_ascii_strdown(g_strstrip(fields[c]), -1);
		gint k = -1;
		for (guint j = 0; j < G_N_ELEMENTS(fst_batch_columns); j++) {
			if (g_str_equal(name, fst_batch_columns[j]))
				k = (gint)j;
		}
		if (k < 0) {
			g_message("%s:%u: column \"%s\" is not one of device, port, profile, lot: "
			          "ignored",
			          self->path,
			          line,
			          name);
			continue;
		}
		if (cols[k] >= 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s:%u: column \"%s\" is repeated",
			            self->path,
			            line,
			            name);
			return FALSE;
		}
		cols[k] = (gint)c;
	}
	if (cols[0] < 0 && cols[1] < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s:%u: the header needs a device or a port column",
		            self->path,
		            line);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_batch_parse_csv(FstBatch *self, const gchar *data, GError **error)
{
	gint cols[4] = {-1, -1, -1, -1};
	guint n_cols = 0;
	gboolean have_header = FALSE;
	gchar delim;
	const gchar *p = data;
	guint line_no = 1;

	/* a byte order mark, as spreadsheets save it */
	if (g_str_has_prefix(p, "\xef\xbb\xbf"))
		p += 3;
	delim = fst_batch_csv_delimiter(p);
	for (;;) {
		g_auto(GStrv) fields = NULL;
		g_autoptr(GError) error_local = NULL;
		FstBatchRow *row;
		guint record_line = line_no;
		guint n;

		fields = fst_batch_csv_record(
		    self->path, delim, &p, &line_no, &record_line, &error_local);
		if (fields == NULL && error_local != NULL) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		if (fields == NULL)
			break;
		n = g_strv_length(fields);
		if (!have_header) {
			if (!fst_batch_csv_header(self, fields, record_line, cols, error))
				return FALSE;
			n_cols = n;
			have_header = TRUE;
			continue;
		}
		if (n != n_cols) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s:%u: %u fields where the header has %u",
			            self->path,
			            record_line,
			            n,
			            n_cols);
			return FALSE;
		}
		row = g_new0(FstBatchRow, 1);
		row->line = record_line;
		for (guint k = 0; k < G_N_ELEMENTS(fst_batch_columns); k++) {
			gchar **slot = k == 0   ? &row->device
			               : k == 1 ? &row->port
			               : k == 2 ? &row->profile
			                        : &row->lot;
			if (cols[k] >= 0 && !fst_batch_value(self->path,
			                                     record_line,
			                                     fst_batch_columns[k],
			                                     fields[cols[k]],
			                                     slot,
			                                     error)) {
				fst_batch_row_free(row);
				return FALSE;
			}
		}
		if (!fst_batch_add_row(self, row, error))
			return FALSE;
	}
	if (!have_header) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: no header line (device,port,profile,lot)",
		            self->path);
		return FALSE;
	}
	return TRUE;
}

/* a string member, or NULL; anything but a string is an error */
static gboolean
fst_batch_json_member(
    FstBatch *self, JsonObject *obj, guint line, const gchar *name, gchar **out, GError **error)
{
	JsonNode *node = json_object_get_member(obj, name);
	*out = NULL;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: row %u: \"%s\" must be a string",
		            self->path,
		            line,
		            name);
		return FALSE;
	}
	return fst_batch_value(self->path, line, name, json_node_get_string(node), out, error);
}

/*
 * Checks run on the raw bytes before json-glib sees them: it parses
 * recursively, so a manifest nested deeper than any manifest needs could
 * exhaust the stack; and it ends a string at a \u0000 escape, so a value
 * holding one would be silently cut short.
 */
static gboolean
fst_batch_json_prescan(const gchar *path, const gchar *data, gsize len, GError **error)
{
	gboolean in_string = FALSE;
	guint depth = 0;
	guint line = 1;

	for (gsize i = 0; i < len; i++) {
		gchar c = data[i];
		if (c == '\n')
			line++;
		if (in_string) {
			if (c == '\\') {
				if (i + 5 < len && data[i + 1] == 'u' &&
				    memcmp(data + i + 2, "0000", 4) == 0) {
					g_set_error(
					    error,
					    FST_ERROR,
					    FST_ERROR_INVALID_DATA,
					    "%s:%u: a string holds \\u0000 (a NUL character), "
					    "which no value may hold",
					    path,
					    line);
					return FALSE;
				}
				/* the escaped character cannot end the string */
				i++;
			} else if (c == '"') {
				in_string = FALSE;
			}
			continue;
		}
		if (c == '"') {
			in_string = TRUE;
		} else if (c == '{' || c == '[') {
			if (++depth > FST_BATCH_MAX_JSON_DEPTH) {
				g_set_error(
				    error,
				    FST_ERROR,
				    FST_ERROR_INVALID_DATA,
				    "%s:%u: JSON nested more than %u levels deep: a manifest "
				    "is an object holding an array of row objects",
				    path,
				    line,
				    (guint)FST_BATCH_MAX_JSON_DEPTH);
				return FALSE;
			}
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return TRUE;
}

/* json-glib keeps the last of two members with one name; a manifest that
 * names one twice is ambiguous, so the first repeat is kept as the error */
typedef struct {
	const gchar *path;
	GError *error;      /* (owned) (nullable) */
	GHashTable *counts; /* (element-type JsonObject guint): members seen per object */
} FstBatchJsonCheck;

static void
fst_batch_json_member_cb(JsonParser *parser,
                         JsonObject *object,
                         const gchar *member_name,
                         gpointer user_data)
{
	FstBatchJsonCheck *check = user_data;
	guint seen = GPOINTER_TO_UINT(g_hash_table_lookup(check->counts, object)) + 1;

	g_hash_table_insert(check->counts, object, GUINT_TO_POINTER(seen));
	/* the member is added before the signal: a repeat leaves the size short */
	if (seen != json_object_get_size(object) && check->error == NULL) {
		g_set_error(&check->error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s:%u: \"%s\" appears twice in one object: give each member once",
		            check->path,
		            json_parser_get_current_line(parser),
		            member_name);
	}
}

static gboolean
fst_batch_parse_json(FstBatch *self, const gchar *data, gsize len, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *profile = NULL;
	g_autofree gchar *lot = NULL;
	JsonNode *root;
	JsonArray *rows = NULL;

	FstBatchJsonCheck check = {self->path, NULL, NULL};
	gboolean ok;

	if (!fst_batch_json_prescan(self->path, data, len, error))
		return FALSE;
	check.counts = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_signal_connect(parser, "object-member", G_CALLBACK(fst_batch_json_member_cb), &check);
	ok = json_parser_load_from_data(parser, data, (gssize)len, &error_local);
	g_signal_handlers_disconnect_by_data(parser, &check);
	g_hash_table_unref(check.counts);
	if (!ok) {
		g_clear_error(&check.error);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: not valid JSON: %s",
		            self->path,
		            error_local->message);
		return FALSE;
	}
	if (check.error != NULL) {
		g_propagate_error(error, check.error);
		return FALSE;
	}
	root = json_parser_get_root(parser);
	if (JSON_NODE_HOLDS_ARRAY(root)) {
		rows = json_node_get_array(root);
	} else if (JSON_NODE_HOLDS_OBJECT(root)) {
		JsonObject *obj = json_node_get_object(root);
		JsonNode *devices = json_object_get_member(obj, "devices");
		if (!fst_batch_json_member(self, obj, 0, "profile", &profile, error) ||
		    !fst_batch_json_member(self, obj, 0, "lot", &lot, error))
			return FALSE;
		if (devices != NULL && JSON_NODE_HOLDS_ARRAY(devices))
			rows = json_node_get_array(devices);
	}
	if (rows == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s: expected an object with a \"devices\" array, or an array",
		            self->path);
		return FALSE;
	}
	for (guint i = 0; i < json_array_get_length(rows); i++) {
		JsonNode *node = json_array_get_element(rows, i);
		JsonObject *obj;
		FstBatchRow *row;
		if (!JSON_NODE_HOLDS_OBJECT(node)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s: row %u is not an object",
			            self->path,
			            i + 1);
			return FALSE;
		}
		obj = json_node_get_object(node);
		row = g_new0(FstBatchRow, 1);
		row->line = i + 1;
		if (!fst_batch_json_member(self, obj, i + 1, "device", &row->device, error) ||
		    !fst_batch_json_member(self, obj, i + 1, "port", &row->port, error) ||
		    !fst_batch_json_member(self, obj, i + 1, "profile", &row->profile, error) ||
		    !fst_batch_json_member(self, obj, i + 1, "lot", &row->lot, error)) {
			fst_batch_row_free(row);
			return FALSE;
		}
		if (row->profile == NULL)
			row->profile = g_strdup(profile);
		if (row->lot == NULL)
			row->lot = g_strdup(lot);
		if (!fst_batch_add_row(self, row, error))
			return FALSE;
	}
	return TRUE;
}

/**
 * fst_batch_parse:
 * @path: the manifest's name, for messages
 * @data: its contents
 * @len: their length
 * @error: (nullable): return location
 *
 * Parses a CSV or JSON manifest (format at the top of this file).
 *
 * Returns: (transfer full): the manifest, or %NULL with
 * %FST_ERROR_INVALID_DATA naming the file, the line and what is wrong
 */
FstBatch *
fst_batch_parse(const gchar *path, const gchar *data, gsize len, GError **error)
{
	g_autoptr(FstBatch) self = g_new0(FstBatch, 1);
	g_autofree gchar *text = g_strndup(data, len);
	const gchar *p = text;

	self->path = g_strdup(path);
	self->rows = g_ptr_array_new_with_free_func((GDestroyNotify)fst_batch_row_free);
	if (strlen(text) != len) {
		g_set_error(error, FST_ERROR, FST_ERROR_INVALID_DATA, "%s holds a NUL byte", path);
		return NULL;
	}
	while (g_ascii_isspace(*p))
		p++;
	if (*p == '{' || *p == '[') {
		if (!fst_batch_parse_json(self, text, len, error))
			return NULL;
	} else if (!fst_batch_parse_csv(self, text, error)) {
		return NULL;
	}
	if (self->rows->len == 0) {
		g_set_error(error, FST_ERROR, FST_ERROR_INVALID_DATA, "%s has no rows", path);
		return NULL;
	}
	return g_steal_pointer(&self);
}

/**
 * fst_batch_load:
 * @path: a manifest file
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the manifest, or %NULL (see fst_batch_parse())
 */
FstBatch *
fst_batch_load(const gchar *path, GError **error)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	data = fst_file_read_bounded(path, FST_BATCH_MAX_FILE, &len, error);
	if (data == NULL) {
		g_prefix_error(error, "reading the manifest: ");
		return NULL;
	}
	return fst_batch_parse(path, data, len, error);
}

/* one (profile, lot) group of rows run as one gang */
typedef struct {
	FstBatch *batch;           /* (unowned) */
	GPtrArray *group;          /* (element-type FstBatchRow) (unowned elements) */
	FstDb *db;                 /* (unowned) */
	const FstProfile *profile; /* (unowned) */
	GMutex lock;
} FstBatchRun;

/*
 * Whether the device @uid of a row of @lot needs nothing more under @profile,
 * so that a re-run skips it:
 * - a provisioning profile that refuses returning devices: the device is
 *   provisioned (by this manifest or before: the pipeline would refuse it);
 * - one that re-provisions them (rework, rotation): its certificate in
 *   service was issued for @lot, i.e. by this manifest (its lot is required);
 * - a trust-only job is never done: rewriting the roots again is harmless.
 */
static gboolean
fst_batch_device_done(
    FstDb *db, const FstProfile *profile, const gchar *uid, const gchar *lot, gchar **serial_hex)
{
	g_autoptr(GError) error_local = NULL;

	if (fst_profile_get_job(profile) == FST_PROFILE_JOB_TRUST_ONLY)
		return FALSE;
	if (fst_profile_get_on_return(profile) == FST_PROFILE_ON_RETURN_REPROVISION) {
		g_autoptr(FstDbCert) cert = fst_db_get_active_certificate(db, uid, &error_local);
		if (cert == NULL || lot == NULL || g_strcmp0(cert->lot, lot) != 0)
			return FALSE;
		if (serial_hex != NULL) {
			g_free(*serial_hex);
			*serial_hex = g_strdup(cert->serial_hex);
		}
		return TRUE;
	} else {
		g_autoptr(FstDbDevice) dev = fst_db_find_device(db, uid, &error_local);
		if (dev == NULL || dev->state != FST_DB_DEVICE_STATE_PROVISIONED)
			return FALSE;
		if (serial_hex != NULL && dev->cert != NULL) {
			g_free(*serial_hex);
			*serial_hex = g_strdup(dev->cert->serial_hex);
		}
		return TRUE;
	}
}

/* decides, per device met on a port, what the manifest wants (FstGangAcceptFunc) */
static gboolean
fst_batch_accept(const gchar *uid, const gchar *port, gpointer user_data, GError **error)
{
	FstBatchRun *run = user_data;
	g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new(&run->lock);

	/* the row of this port */
	for (guint i = 0; i < run->group->len; i++) {
		FstBatchRow *row = g_ptr_array_index(run->group, i);
		if (g_strcmp0(row->port, port) != 0)
			continue;
		g_free(row->uid);
		row->uid = g_strdup(uid);
		if (row->device != NULL && g_strcmp0(row->device, uid) != 0) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_INVALID_DATA,
			    "port %s has device %s, but the manifest expects %s there (%s:%u): "
			    "put the right board on the fixture",
			    port,
			    uid,
			    row->device,
			    run->batch->path,
			    row->line);
			row->status = FST_BATCH_FAILED;
			row->error = g_error_copy(*error);
			return FALSE;
		}
		if (row->device == NULL &&
		    fst_batch_device_done(run->db, run->profile, uid, row->lot, &row->serial_hex)) {
			row->status = FST_BATCH_SKIPPED;
			return FALSE;
		}
		return TRUE;
	}
	/* a row that expects this device anywhere */
	for (guint i = 0; i < run->group->len; i++) {
		FstBatchRow *row = g_ptr_array_index(run->group, i);
		if (row->port == NULL && g_strcmp0(row->device, uid) == 0 &&
		    row->status == FST_BATCH_PENDING && row->uid == NULL) {
			row->uid = g_strdup(uid);
			return TRUE;
		}
	}
	/* done on an earlier run: nothing to say */
	for (guint i = 0; i < run->batch->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(run->batch->rows, i);
		if (g_strcmp0(row->device, uid) == 0 && row->status == FST_BATCH_SKIPPED)
			return FALSE;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INVALID_DATA,
	            "device %s on port %s is not in the manifest %s: take it off the line",
	            uid,
	            port,
	            run->batch->path);
	return FALSE;
}

static FstBatchRow *
fst_batch_row_for_result(FstBatchRun *run, const FstProvisionResult *result)
{
	for (guint i = 0; i < run->group->len; i++) {
		FstBatchRow *row = g_ptr_array_index(run->group, i);
		if (row->port != NULL && g_strcmp0(row->port, result->port) == 0)
			return row;
	}
	for (guint i = 0; result->uid != NULL && i < run->group->len; i++) {
		FstBatchRow *row = g_ptr_array_index(run->group, i);
		if (row->port == NULL && g_strcmp0(row->uid, result->uid) == 0)
			return row;
	}
	return NULL;
}

static void
fst_batch_add_port(GPtrArray *ports, const gchar *port)
{
	for (guint i = 0; i < ports->len; i++) {
		if (g_strcmp0(g_ptr_array_index(ports, i), port) == 0)
			return;
	}
	g_ptr_array_add(ports, g_strdup(port));
}

/* the row's status from its device's result; @row is %NULL for a device
 * found on a candidate port that no row took (its trouble was shown as
 * progress), and a row refused before provisioning keeps its error */
static void
fst_batch_row_set_result(FstBatchRow *row, const FstProvisionResult *r)
{
	if (row == NULL)
		return;
	if (row->status == FST_BATCH_FAILED && row->error != NULL)
		return;
	g_free(row->serial_hex);
	row->serial_hex = g_strdup(r->serial_hex);
	if (r->uid != NULL && row->uid == NULL)
		row->uid = g_strdup(r->uid);
	if (r->skipped) {
		row->status = FST_BATCH_SKIPPED;
	} else if (r->error == NULL) {
		row->status = FST_BATCH_PROVISIONED;
	} else {
		row->status = FST_BATCH_FAILED;
		g_clear_error(&row->error);
		row->error = g_error_copy(r->error);
	}
}

static gboolean
fst_batch_run_group(FstBatch *self,
                    FstStation *station,
                    GPtrArray *group,
                    const FstProfile *profile,
                    const gchar *lot,
                    const FstBatchOptions *options,
                    FstProgressFunc progress,
                    gpointer user_data,
                    GError **error)
{
	g_autoptr(GPtrArray) ports = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) results = NULL;
	FstBatchRun run = {
	    .batch = self,
	    .group = group,
	    .db = fst_station_get_db(station),
	    .profile = profile,
	};
	FstGangOptions gang = {
	    .baud_rate = options->baud_rate,
	    .accept = fst_batch_accept,
	    .accept_data = &run,
	    .stop = options->stop,
	    .abort = options->abort,
	};
	gboolean need_candidates = FALSE;

	if (!fst_station_set_lot(station, lot, error))
		return FALSE;
	for (guint i = 0; i < group->len; i++) {
		FstBatchRow *row = g_ptr_array_index(group, i);
		if (row->port != NULL)
			fst_batch_add_port(ports, row->port);
		else
			need_candidates = TRUE;
	}
	for (guint i = 0; need_candidates && options->ports != NULL && options->ports[i] != NULL;
	     i++)
		fst_batch_add_port(ports, options->ports[i]);
	if (ports->len == 0)
		return TRUE;
	g_ptr_array_add(ports, NULL);

	g_mutex_init(&run.lock);
	results = fst_gang_run(
	    station, profile, (const gchar *const *)ports->pdata, &gang, progress, user_data);
	g_mutex_clear(&run.lock);
	for (guint i = 0; i < results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(results, i);
		fst_batch_row_set_result(fst_batch_row_for_result(&run, r), r);
		if (options->on_result != NULL)
			options->on_result(r, options->on_result_data);
	}
	return TRUE;
}

/**
 * fst_batch_run:
 * @self: a manifest; its rows get their status
 * @station: the station
 * @options: defaults and where to look (see #FstBatchOptions)
 * @progress: (nullable): per-device progress, from worker threads
 * @user_data: data for @progress
 * @error: (nullable): return location
 *
 * Loads and prepares each profile the manifest names once
 * (fst_station_prepare_profile(): the CA checked, the key pool), marks
 * the rows whose device needs nothing more as done (see
 * fst_batch_device_done(): provisioned, or under a re-provisioning profile
 * given its certificate in service for the row's lot), then runs the others,
 * one gang per (profile, lot), and gives every row its status.
 *
 * Returns: %FALSE when the run itself could not go on (a profile, the
 * database): rows not reached stay pending
 */
gboolean
fst_batch_run(FstBatch *self,
              FstStation *station,
              const FstBatchOptions *options,
              FstProgressFunc progress,
              gpointer user_data,
              GError **error)
{
	FstDb *db = fst_station_get_db(station);
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) profiles = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, (GDestroyNotify)fst_profile_free);

	/* rows done on an earlier run */
	for (guint i = 0; i < self->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(self->rows, i);
		FstProfile *profile;
		if (row->profile == NULL)
			row->profile = g_strdup(options->profile);
		if (row->lot == NULL)
			row->lot = g_strdup(options->lot);
		if (row->profile == NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s:%u: no profile: add a profile column, or give --profile",
			            self->path,
			            row->line);
			return FALSE;
		}
		profile = g_hash_table_lookup(profiles, row->profile);
		if (profile == NULL) {
			profile = fst_station_load_profile(station, row->profile, error);
			if (profile == NULL) {
				g_prefix_error(error, "%s:%u: ", self->path, row->line);
				return FALSE;
			}
			/* once per profile, before any device: the CA checked, the
			 * key pool started, AWS reached */
			if (!fst_station_prepare_profile(station, profile, error) ||
			    !fst_station_connect_issuer(station, profile, error)) {
				g_prefix_error(error, "%s:%u: ", self->path, row->line);
				fst_profile_free(profile);
				return FALSE;
			}
			g_hash_table_insert(profiles, g_strdup(row->profile), profile);
		}
		/* without a lot, a re-run could not tell a board reworked by this
		 * manifest from one that came back to it */
		if (fst_profile_get_job(profile) == FST_PROFILE_JOB_PROVISION &&
		    fst_profile_get_on_return(profile) == FST_PROFILE_ON_RETURN_REPROVISION &&
		    row->lot == NULL) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_CONFIG,
			    "%s:%u: profile %s re-provisions devices that come back: give "
			    "the rework a lot of its own (a lot column, or --lot), so that a "
			    "re-run skips the devices it did",
			    self->path,
			    row->line,
			    row->profile);
			return FALSE;
		}
		if (row->device != NULL &&
		    fst_batch_device_done(db, profile, row->device, row->lot, &row->serial_hex)) {
			row->status = FST_BATCH_SKIPPED;
			row->uid = g_strdup(row->device);
		}
	}

	/* the other rows, one gang per (profile, lot), in manifest order */
	for (guint i = 0; i < self->rows->len; i++) {
		FstBatchRow *first = g_ptr_array_index(self->rows, i);
		g_autofree gchar *key = NULL;
		g_autoptr(GPtrArray) group = NULL;
		gboolean seen = FALSE;

		if (first->status != FST_BATCH_PENDING)
			continue;
		key =
		    g_strdup_printf("%s\n%s", first->profile, first->lot != NULL ? first->lot : "");
		for (guint k = 0; k < keys->len; k++)
			seen = seen || g_str_equal(g_ptr_array_index(keys, k), key);
		if (seen)
			continue;
		g_ptr_array_add(keys, g_strdup(key));
		group = g_ptr_array_new();
		for (guint j = i; j < self->rows->len; j++) {
			FstBatchRow *row = g_ptr_array_index(self->rows, j);
			if (row->status == FST_BATCH_PENDING &&
			    g_strcmp0(row->profile, first->profile) == 0 &&
			    g_strcmp0(row->lot, first->lot) == 0)
				g_ptr_array_add(group, row);
		}
		if (g_cancellable_is_cancelled(options->stop))
			break;
		if (!fst_batch_run_group(self,
		                         station,
		                         group,
		                         g_hash_table_lookup(profiles, first->profile),
		                         first->lot,
		                         options,
		                         progress,
		                         user_data,
		                         error))
			return FALSE;
	}

	/* what was not met */
	for (guint i = 0; i < self->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(self->rows, i);
		if (row->status != FST_BATCH_PENDING || g_cancellable_is_cancelled(options->stop))
			continue;
		row->status = FST_BATCH_MISSING;
		if (row->port != NULL)
			g_set_error(&row->error,
			            FST_ERROR,
			            FST_ERROR_NOT_FOUND,
			            "no device answered on port %s",
			            row->port);
		else
			g_set_error(
			    &row->error,
			    FST_ERROR,
			    FST_ERROR_NOT_FOUND,
			    "device %s was not found on any port: give the ports with --port "
			    "or --all-ports",
			    row->device);
	}
	return TRUE;
}
