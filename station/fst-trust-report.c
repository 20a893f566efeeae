/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Root expiry planning: which provisioned devices hold root CAs that end
 * before their certificate, or within a horizon, grouped by lot and profile
 * with the trust-only job that would refresh them. Reads the records of
 * what was burned (db/fst-report.c) and judges them with the catalogue.
 */

#define G_LOG_DOMAIN "FstTrust"

#include "fst-trust-report.h"

#include <string.h>

#include "fst-error.h"
#include "fst-report.h"

/* the profile that rewrites only the root CAs (templates/profiles) */
#define FST_TRUST_REPORT_JOB_PROFILE "aws-iot-trust-update"

static void
fst_trust_report_device_free(FstTrustReportDevice *self)
{
	if (self == NULL)
		return;
	g_free(self->uid);
	g_free(self->serial_hex);
	g_free(self->roots);
	g_free(self->ending);
	g_free(self->reason);
	g_free(self);
}

/**
 * fst_trust_report_group_free:
 * @self: (nullable) (transfer full): a group
 */
void
fst_trust_report_group_free(FstTrustReportGroup *self)
{
	if (self == NULL)
		return;
	g_free(self->lot);
	g_free(self->profile);
	if (self->devices != NULL)
		g_ptr_array_unref(self->devices);
	g_free(self->job);
	g_free(self->note);
	g_free(self);
}

/**
 * fst_trust_reason_from_detail:
 * @detail: (nullable): the detail of a `plan` event
 *
 * The pipeline ends the plan event's detail with ", roots NAMES (REASON)";
 * this returns the REASON.
 *
 * Returns: (transfer full) (nullable): the reason, or %NULL if there is none
 */
gchar *
fst_trust_reason_from_detail(const gchar *detail)
{
	const gchar *p;
	guint depth = 0;

	if (detail == NULL)
		return NULL;
	p = strstr(detail, ", roots ");
	if (p == NULL)
		return NULL;
	p = strchr(p, '(');
	if (p == NULL)
		return NULL;
	for (const gchar *q = p; *q != '\0'; q++) {
		if (*q == '(')
			depth++;
		else if (*q == ')' && --depth == 0)
			return g_strndup(p + 1, (gsize)(q - p - 1));
	}
	return NULL;
}

typedef struct {
	FstTrustCatalogue *catalogue;
	const gchar *workspace;
	gint64 horizon;
	GPtrArray *groups; /* (element-type FstTrustReportGroup) */
} FstTrustReportHelper;

static gchar *
fst_trust_report_date(gint64 when)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(when);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d") : g_strdup("?");
}

/* a shell word, quoted only when it needs to be, for a command to copy */
static gchar *
fst_trust_report_shell_word(const gchar *word)
{
	for (const gchar *p = word; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr("._/-=:,+@", *p) == NULL)
			return g_shell_quote(word);
	}
	return word[0] != '\0' ? g_strdup(word) : g_shell_quote(word);
}

static FstTrustReportGroup *
fst_trust_report_group(FstTrustReportHelper *helper, const gchar *lot, const gchar *profile)
{
	FstTrustReportGroup *group;
	g_autoptr(GString) job = NULL;

	if (helper->groups->len > 0) {
		group = g_ptr_array_index(helper->groups, helper->groups->len - 1);
		if (g_strcmp0(group->lot, lot) == 0 && g_strcmp0(group->profile, profile) == 0)
			return group;
	}
	group = g_new0(FstTrustReportGroup, 1);
	group->lot = g_strdup(lot);
	group->profile = g_strdup(profile);
	group->devices =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_trust_report_device_free);
	job = g_string_new("fleetstation provision");
	if (helper->workspace != NULL) {
		g_autofree gchar *quoted = fst_trust_report_shell_word(helper->workspace);
		g_string_append_printf(job, " --workspace %s", quoted);
	}
	g_string_append(job, " --profile " FST_TRUST_REPORT_JOB_PROFILE);
	if (lot != NULL) {
		g_autofree gchar *quoted = fst_trust_report_shell_word(lot);
		g_string_append_printf(job, " --lot %s", quoted);
	}
	g_string_append(job, " --port PORT...");
	group->job = g_string_free(g_steal_pointer(&job), FALSE);
	g_ptr_array_add(helper->groups, group);
	return group;
}

/* the latest end of the ATS roots the catalogue has now: a trust-only job
 * cannot give a device roots that last longer than that */
static gint64
fst_trust_report_latest_ats_end(FstTrustCatalogue *catalogue)
{
	GPtrArray *roots = fst_trust_catalogue_get_roots(catalogue);
	gint64 latest = 0;
	for (guint i = 0; i < roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(roots, i);
		if (root->role != FST_TRUST_ROLE_ATS_PRIMARY &&
		    root->role != FST_TRUST_ROLE_ATS_RESERVED)
			continue;
		latest = MAX(latest, root->not_after);
	}
	return latest;
}

static gboolean
fst_trust_report_row_cb(const gchar *const *cells, gpointer user_data, GError **error)
{
	FstTrustReportHelper *helper = user_data;
	const gchar *lot = cells[1][0] != '\0' ? cells[1] : NULL;
	const gchar *profile = cells[2][0] != '\0' ? cells[2] : NULL;
	gint64 cert_not_after = g_ascii_strtoll(cells[4], NULL, 10);
	g_auto(GStrv) fingerprints = g_strsplit(cells[5], ",", -1);
	g_autoptr(GString) names = g_string_new(NULL);
	g_autoptr(GString) ending = g_string_new(NULL);
	FstTrustReportGroup *group = fst_trust_report_group(helper, lot, profile);
	FstTrustReportDevice *dev;
	gint64 first_end = 0;
	gboolean before_cert = FALSE;

	group->checked++;
	for (guint i = 0; fingerprints[i] != NULL; i++) {
		const gchar *sha = g_strstrip(fingerprints[i]);
		const FstTrustRoot *root;
		g_autofree gchar *date = NULL;
		if (sha[0] == '\0')
			continue;
		root = fst_trust_catalogue_find_sha256(helper->catalogue, sha);
		if (names->len > 0)
			g_string_append_c(names, ',');
		if (root == NULL) {
			/* a root the catalogue no longer has: its end is unknown here,
			 * so it is listed for a look rather than trusted to last */
			g_string_append_printf(names, "sha256:%.16s", sha);
			if (ending->len > 0)
				g_string_append(ending, ", ");
			g_string_append_printf(ending, "sha256:%.16s (not in the catalogue)", sha);
			continue;
		}
		g_string_append(names, root->name);
		if (root->not_after >= cert_not_after &&
		    (helper->horizon == 0 || root->not_after >= helper->horizon))
			continue;
		if (root->not_after < cert_not_after)
			before_cert = TRUE;
		if (first_end == 0 || root->not_after < first_end)
			first_end = root->not_after;
		date = fst_trust_report_date(root->not_after);
		if (ending->len > 0)
			g_string_append(ending, ", ");
		g_string_append_printf(ending, "%s (%s)", root->name, date);
	}
	if (ending->len == 0)
		return TRUE;
	dev = g_new0(FstTrustReportDevice, 1);
	dev->uid = g_strdup(cells[0]);
	dev->serial_hex = g_strdup(cells[3]);
	dev->cert_not_after = cert_not_after;
	dev->roots = g_string_free(g_steal_pointer(&names), FALSE);
	dev->ending = g_string_free(g_steal_pointer(&ending), FALSE);
	dev->first_end = first_end;
	dev->before_cert = before_cert;
	dev->reason = fst_trust_reason_from_detail(cells[6]);
	g_ptr_array_add(group->devices, dev);
	return TRUE;
}

/**
 * fst_trust_report:
 * @catalogue: the trust catalogue (with the workspace's user roots)
 * @workspace: the workspace, whose station.db is read
 * @lot: (nullable): only this lot
 * @horizon: unix seconds: also report roots that end before then; 0 for
 *   only those that end before the device certificate
 * @error: (nullable): return location
 *
 * Root expiry planning over the devices with a certificate in service:
 * per lot and profile, those whose burned roots end before their device
 * certificate or before @horizon, with the trust-only job that rewrites
 * their roots from the catalogue. A group whose devices would get no
 * longer-lived root from today's catalogue says so in its note.
 *
 * Returns: (transfer container) (element-type FstTrustReportGroup): every
 * lot and profile seen (groups without devices to refresh included, with
 * their count of devices checked), or %NULL with @error set
 */
GPtrArray *
fst_trust_report(FstTrustCatalogue *catalogue,
                 const gchar *workspace,
                 const gchar *lot,
                 gint64 horizon,
                 GError **error)
{
	g_autofree gchar *db_path = g_build_filename(workspace, "station.db", NULL);
	g_autoptr(GPtrArray) groups =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_trust_report_group_free);
	FstTrustReportHelper helper = {
	    .catalogue = catalogue,
	    .workspace = workspace,
	    .horizon = horizon,
	    .groups = groups,
	};
	gint64 latest = fst_trust_report_latest_ats_end(catalogue);

	if (!fst_report_foreach_roots(db_path, lot, fst_trust_report_row_cb, &helper, error))
		return NULL;
	for (guint i = 0; i < groups->len; i++) {
		FstTrustReportGroup *group = g_ptr_array_index(groups, i);
		gint64 need = 0;
		for (guint j = 0; j < group->devices->len; j++) {
			FstTrustReportDevice *dev = g_ptr_array_index(group->devices, j);
			need =
			    MAX(need, MIN(dev->cert_not_after, horizon > 0 ? horizon : G_MAXINT64));
		}
		if (group->devices->len > 0 && latest < need) {
			g_autofree gchar *date = fst_trust_report_date(latest);
			group->note = g_strdup_printf(
			    "no ATS root of the catalogue lasts longer (the last ends %s): add the "
			    "successor roots (a fleetstation release, or WORKSPACE/trust) before "
			    "running the job",
			    date);
		}
	}
	return g_steal_pointer(&groups);
}
