/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>

#include <glib.h>

#include "fst-interaction.h"
#include "fst-report.h"
#include "fst-secret.h"

G_BEGIN_DECLS

/* the report signing key and certificate, inside the workspace */
#define FST_REPORT_KEY_FILE "report-key.pem"
#define FST_REPORT_CERT_FILE "report-cert.pem"

gboolean fst_report_parse_time(const gchar *text, gint64 *out_us, GError **error);
gboolean
fst_report_write_json(const gchar *db_path, const FstReportScope *scope, FILE *out, GError **error);
/**
 * FstReportPaper:
 * @FST_REPORT_PAPER_A4: ISO A4, 210 x 297 mm
 * @FST_REPORT_PAPER_LETTER: US Letter, 8.5 x 11 in
 *
 * The paper of a PDF report, portrait.
 */
typedef enum {
	FST_REPORT_PAPER_A4,
	FST_REPORT_PAPER_LETTER,
} FstReportPaper;

gboolean fst_report_paper_from_string(const gchar *name, FstReportPaper *paper);
gboolean fst_report_write_pdf(const gchar *db_path,
                              const FstReportScope *scope,
                              FILE *out,
                              FstReportPaper paper,
                              GError **error);
gboolean fst_report_export_file(const gchar *db_path,
                                const FstReportScope *scope,
                                const gchar *format,
                                FstReportPaper paper,
                                const gchar *path,
                                GError **error);
gboolean fst_report_export_signed(const gchar *workspace,
                                  FstInteraction *interaction,
                                  const gchar *db_path,
                                  const FstReportScope *scope,
                                  const gchar *format,
                                  FstReportPaper paper,
                                  const gchar *path,
                                  GError **error);
gboolean fst_report_ensure_key(const gchar *workspace,
                               const gchar *station_name,
                               const FstSecret *secret,
                               GError **error);
GBytes *fst_report_sign_bytes(const gchar *workspace,
                              FstInteraction *interaction,
                              GBytes *content,
                              GError **error);
gboolean fst_report_sign_full(const gchar *workspace,
                              FstInteraction *interaction,
                              const gchar *file,
                              const gchar *sig_path,
                              GError **error);
gboolean
fst_report_sign(const gchar *workspace, const gchar *file, const gchar *sig_path, GError **error);
gboolean
fst_report_verify(const gchar *cert_path, const gchar *file, const gchar *sig_path, GError **error);

G_END_DECLS
