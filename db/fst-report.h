/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>

#include <glib.h>

#include "fst-failure-groups.h"

G_BEGIN_DECLS

/*
 * Report rows: one per device in scope, with its newest certificate. The
 * columns, in this order, are the CSV header, the JSON member names and the
 * PDF table (a subset):
 *
 * | column            | meaning |
 * |-------------------|---------|
 * | device_uid        | the device's unique id, as it reported it (untrusted text) |
 * | model, firmware   | as it reported them at its last identification (untrusted) |
 * | port              | the port it was last provisioned on |
 * | station           | the station that last worked on it |
 * | operator, lot     | the session context then (fst_db_set_context()); empty if none |
 * | device_state      | new, in-progress, provisioned, failed, rework |
 * | last_error        | why the last attempt failed; empty once provisioned |
 * | serial            | newest certificate serial, upper-case hex; empty if none |
 * | aws_cert_id       | SHA-256 of its DER, lower-case hex (the AWS IoT certificate id) |
 * | cert_state        | issued, burned, verified, registered, superseded, revoked |
 * | subject           | certificate subject |
 * | not_before, not_after | validity, ISO 8601 UTC |
 * | issued_at         | when the certificate was recorded, ISO 8601 UTC |
 * | updated_at        | when the device row last changed, ISO 8601 UTC |
 * | revoked_at, revocation_reason | revocation, empty if not revoked |
 * | roots             | the root CAs of its last plan and why the others were left out, from the
 * `plan` event, e.g. "AmazonRootCA1 (CA 3/4 omitted: device validates RSA only, 2,048 bytes free
 * ...)" |
 * | error_code, failed_step | a failed device's class: the error code and the step of its
 * last failed step (fst-failure-groups.c); empty unless failed |
 *
 * Times are ISO 8601 UTC with seconds (`2026-11-23T12:45:00Z`).
 */
#define FST_REPORT_N_COLUMNS 22
extern const gchar *const fst_report_columns[FST_REPORT_N_COLUMNS];

/**
 * FstReportScope:
 *
 * Which devices a report covers; unset fields (NULL, 0) match everything and
 * set ones combine with AND. The time range applies to `devices.updated_at`
 * (when each device was last worked on).
 */
typedef struct {
	const gchar *lot;
	const gchar *station; /* station name */
	gint64 since_us;      /* >=, unix microseconds */
	gint64 until_us;      /* <, unix microseconds */
} FstReportScope;

/**
 * FstReportFailure:
 * @error_code: the class's error code name (`timed-out`...), or `unknown`
 * @step: the step the devices failed at (`burn`...), or `unknown`
 * @devices: how many failed devices in scope are of the class
 * @reason: one example: the `last_error` of the newest device of the class
 * @example_devices: (array zero-terminated=1): up to three device ids
 *
 * The failed devices of one class (an #FstFailureGroup of the report).
 */
typedef struct {
	gchar *error_code;
	gchar *step;
	gint64 devices;
	gchar *reason;
	gchar **example_devices;
} FstReportFailure;

/**
 * FstReportCount:
 * @name: (nullable): an operator's or a lot's name; %NULL for the devices
 *   whose last start named none
 * @devices: how many devices in scope it last worked on (operator) or holds
 *   (lot)
 */
typedef struct {
	gchar *name;
	gint64 devices;
} FstReportCount;

/**
 * FstReportSummary:
 *
 * The totals of a report. @operators and @lots (element-type
 * FstReportCount) count the devices in scope by the operator and the lot of
 * their last start (the report's `operator` and `lot` columns), most devices
 * first, then by name: who did the work, and of which lots.
 */
typedef struct {
	gchar *database_id; /* db_properties database-id */
	gchar *stations;    /* comma-separated names of the stations in scope */
	GPtrArray *operators;
	GPtrArray *lots;
	gchar *audit_head; /* (nullable): "<id> <hash>" of the audit chain then */
	gint64 first_us;   /* first and last devices.updated_at in scope, 0 if none */
	gint64 last_us;
	gint64 devices;
	gint64 provisioned;
	gint64 failed;
	gint64 rework;
	gint64 in_progress;
	GPtrArray *failures; /* (element-type FstReportFailure): most frequent first */
} FstReportSummary;

void fst_report_summary_free(FstReportSummary *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstReportSummary, fst_report_summary_free)

/* @cells: FST_REPORT_N_COLUMNS strings, "" for empty; valid during the call */
typedef gboolean (*FstReportRowFunc)(const gchar *const *cells, gpointer user_data, GError **error);

FstReportSummary *
fst_report_summary(const gchar *db_path, const FstReportScope *scope, GError **error);
gboolean fst_report_foreach(const gchar *db_path,
                            const FstReportScope *scope,
                            FstReportRowFunc func,
                            gpointer user_data,
                            GError **error);
gchar *fst_report_rows_sql(const FstReportScope *scope);
void fst_report_csv_write_cell(GString *out, const gchar *cell);
/* uid, lot, profile, serial, not_after, root fingerprints, plan detail */
#define FST_REPORT_ROOTS_N_COLUMNS 7
gboolean fst_report_foreach_roots(const gchar *db_path,
                                  const gchar *lot,
                                  FstReportRowFunc func,
                                  gpointer user_data,
                                  GError **error);
gboolean
fst_report_write_csv(const gchar *db_path, const FstReportScope *scope, FILE *out, GError **error);

G_END_DECLS
