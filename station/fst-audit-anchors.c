/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit chain's anchors as the engine reads them: the chain head kept
 * outside the database, in signed checkpoints (`fleetstation audit
 * checkpoint`) or signed JSON reports, which fst_audit_verify_anchored()
 * checks the chain still passes through. The CLI's `audit verify` and the
 * GUI's audit check read them here.
 */

#define G_LOG_DOMAIN "FstAudit"

#include "fst-audit-anchors.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "fst-error.h"
#include "fst-json.h"
#include "fst-report-export.h"

/* a signed JSON report as an anchor: its summary names the database and
 * the chain head when it was made */
static FstAuditAnchor *
fst_audit_anchors_from_report(const gchar *data, gsize len, const gchar *path, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(FstAuditAnchor) anchor = g_new0(FstAuditAnchor, 1);
	g_auto(GStrv) head = NULL;
	JsonObject *summary;
	const gchar *text;

	if (!json_parser_load_from_data(parser, data, (gssize)len, NULL))
		goto invalid;
	summary = fst_json_get_object(fst_json_root_object(parser), "summary");
	if (summary == NULL)
		goto invalid;
	text = fst_json_get_string(summary, "audit_head");
	if (text == NULL)
		goto invalid;
	head = g_strsplit(text, " ", 2);
	if (g_strv_length(head) != 2)
		goto invalid;
	anchor->head_id = g_ascii_strtoll(head[0], NULL, 10);
	anchor->head_hash = g_ascii_strdown(head[1], -1);
	anchor->database_id = g_strdup(fst_json_get_string(summary, "database_id"));
	anchor->station = g_strdup(fst_json_get_string(summary, "stations"));
	text = fst_json_get_string(summary, "generated_at");
	if (text != NULL) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(text, NULL);
		if (dt != NULL)
			anchor->created_at = g_date_time_to_unix(dt) * G_USEC_PER_SEC;
	}
	anchor->source = g_strdup(path);
	if (anchor->head_id <= 0 || strlen(anchor->head_hash) != 64)
		goto invalid;
	return g_steal_pointer(&anchor);
invalid:
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INVALID_DATA,
	            "%s is neither an audit checkpoint nor a JSON report with an audit head",
	            path);
	return NULL;
}

/**
 * fst_audit_anchors_load_file:
 * @path: an anchor: a checkpoint (`fleetstation audit checkpoint`) or a
 *   signed JSON report
 * @cert_path: the certificate its signature FILE.sig must come from
 * @error: (nullable): return location
 *
 * Reads an anchor, checked against its detached signature: a missing or bad
 * signature is %FST_ERROR_VERIFY_FAILED, a file that is neither kind of
 * anchor %FST_ERROR_INVALID_DATA.
 *
 * Returns: (transfer full): the anchor, or %NULL with @error set
 */
FstAuditAnchor *
fst_audit_anchors_load_file(const gchar *path, const gchar *cert_path, GError **error)
{
	g_autofree gchar *sig = g_strdup_printf("%s.sig", path);
	g_autofree gchar *data = NULL;
	gsize len = 0;

	if (!g_file_test(sig, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "anchor %s has no signature %s: an unsigned anchor proves nothing",
		            path,
		            sig);
		return NULL;
	}
	if (!fst_report_verify(cert_path, path, sig, error)) {
		g_prefix_error(error, "anchor %s: ", path);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, &len, error))
		return NULL;
	if (len > 0 && data[0] == '{')
		return fst_audit_anchors_from_report(data, len, path, error);
	return fst_audit_anchor_parse(data, len, path, error);
}

/* the anchors kept in WORKSPACE/anchors/, oldest first */
static gboolean
fst_audit_anchors_list_workspace(const gchar *workspace, GPtrArray *paths, GError **error)
{
	g_autofree gchar *dir_path = g_build_filename(workspace, FST_AUDIT_ANCHORS_DIR, NULL);
	g_autoptr(GDir) dir = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	if (!g_file_test(dir_path, G_FILE_TEST_IS_DIR))
		return TRUE;
	dir = g_dir_open(dir_path, 0, error);
	if (dir == NULL)
		return FALSE;
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_suffix(name, ".anchor"))
			g_ptr_array_add(names, g_strdup(name));
	}
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < names->len; i++)
		g_ptr_array_add(paths,
		                g_build_filename(dir_path, g_ptr_array_index(names, i), NULL));
	return TRUE;
}

/**
 * fst_audit_anchors_load:
 * @workspace: the workspace, for its anchors and report certificate
 * @files: (nullable) (array zero-terminated=1): anchor files; %NULL for
 *   those kept in WORKSPACE/anchors/
 * @cert: (nullable): the certificate the signatures must come from; %NULL
 *   for the workspace's report certificate
 * @error: (nullable): return location
 *
 * Reads anchors for fst_audit_verify_anchored(), each checked against its
 * signature (fst_audit_anchors_load_file()). A workspace without anchors
 * gives an empty array.
 *
 * Returns: (transfer container) (element-type FstAuditAnchor): the anchors,
 *   the workspace's oldest first, or %NULL with @error set
 */
GPtrArray *
fst_audit_anchors_load(const gchar *workspace, gchar **files, const gchar *cert, GError **error)
{
	g_autoptr(GPtrArray) anchors =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_audit_anchor_free);
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *cert_path =
	    cert != NULL ? g_strdup(cert) : g_build_filename(workspace, FST_REPORT_CERT_FILE, NULL);

	if (files != NULL) {
		for (guint i = 0; files[i] != NULL; i++)
			g_ptr_array_add(paths, g_strdup(files[i]));
	} else if (!fst_audit_anchors_list_workspace(workspace, paths, error)) {
		return NULL;
	}
	for (guint i = 0; i < paths->len; i++) {
		FstAuditAnchor *anchor =
		    fst_audit_anchors_load_file(g_ptr_array_index(paths, i), cert_path, error);
		if (anchor == NULL)
			return NULL;
		g_ptr_array_add(anchors, anchor);
	}
	return g_steal_pointer(&anchors);
}

/**
 * fst_audit_anchors_newest:
 * @anchors: (element-type FstAuditAnchor): anchors
 *
 * Returns: (transfer none) (nullable): the anchor of the latest chain head,
 *   %NULL when there is none
 */
FstAuditAnchor *
fst_audit_anchors_newest(GPtrArray *anchors)
{
	FstAuditAnchor *last = NULL;
	for (guint i = 0; i < anchors->len; i++) {
		FstAuditAnchor *anchor = g_ptr_array_index(anchors, i);
		if (last == NULL || anchor->head_id > last->head_id)
			last = anchor;
	}
	return last;
}
