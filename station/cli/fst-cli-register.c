/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation register: the AWS IoT registration queue.
 *
 *   register status [--state S] [--lot L]   counts and rows
 *   register push [--central]               work every due row now (of the
 *                                           central registry's queue)
 *   register retry [SERIAL]                 put failed rows back
 *   register reconcile                      the database against what AWS
 *                                           holds (fst-aws-reconcile.c)
 *
 * The AWS side (credentials, region, endpoint) is found as the AWS CLI finds
 * it (station/fst-aws-credentials.c); what each certificate gets (thing name,
 * policy, with or without its CA, status) comes from the `[aws]` group of the
 * profile it was issued with (a --profile file, else the templates' profile
 * of that name), and an option given on the command line wins over it.
 */

#define G_LOG_DOMAIN "FstCli"

#include <glib-unix.h>
#include <unistd.h>

#include "fst-aws-credentials.h"
#include "fst-aws-iot.h"
#include "fst-aws-reconcile.h"
#include "fst-ca-store.h"
#include "fst-central-station.h"
#include "fst-cli.h"
#include "fst-db-queue.h"
#include "fst-error.h"
#include "fst-registration.h"
#include "fst-station.h"

static const gchar *const fst_cli_register_states[] = {"pending", "in-progress", "done", "failed"};

static void
fst_cli_register_item_json(JsonBuilder *b, const FstDbQueueItem *item)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "id");
	json_builder_add_int_value(b, item->id);
	fst_cli_json_add_string(b, "serial", item->serial_hex);
	fst_cli_json_add_string(b, "aws_cert_id", item->aws_cert_id);
	fst_cli_json_add_string(b, "device", item->device_uid);
	fst_cli_json_add_string(b, "lot", item->lot);
	fst_cli_json_add_string(b, "target", item->target);
	fst_cli_json_add_string(b, "action", item->action);
	fst_cli_json_add_string(b, "state", item->state);
	fst_cli_json_add_string(b, "remote_id", item->remote_id);
	fst_cli_json_add_string(b, "last_error", item->last_error);
	json_builder_set_member_name(b, "attempts");
	json_builder_add_int_value(b, item->attempts);
	json_builder_end_object(b);
}

static void
fst_cli_register_counts_json(JsonBuilder *b, const gint64 counts[4])
{
	json_builder_set_member_name(b, "counts");
	json_builder_begin_object(b);
	for (guint i = 0; i < 4; i++) {
		json_builder_set_member_name(b, fst_cli_register_states[i]);
		json_builder_add_int_value(b, counts[i]);
	}
	json_builder_end_object(b);
}

static gboolean
fst_cli_register_sigint_cb(gpointer data)
{
	g_cancellable_cancel(G_CANCELLABLE(data));
	return G_SOURCE_CONTINUE;
}

typedef struct {
	FstRegistration *worker;
	GCancellable *cancellable;
	GError *error;
	gboolean ok;
} FstCliPush;

static gpointer
fst_cli_register_push_job(gpointer data)
{
	FstCliPush *push = data;
	push->ok = fst_registration_push(push->worker, push->cancellable, &push->error);
	return NULL;
}

/* the worker of `register push`: on the station's queue, or with --central
 * on the central registry's, as REGISTRAR (default STATION@HOST:PID) */
static FstRegistration *
fst_cli_register_worker(const gchar *workspace,
                        const gchar *db_path,
                        gboolean central,
                        const gchar *registrar,
                        FstAwsIot *iot,
                        const FstRegistrationConfig *config,
                        GError **error)
{
	g_autoptr(FstCentral) conn = NULL;
	g_autofree gchar *name = NULL;
	g_autofree gchar *station = NULL;

	if (!central)
		return fst_registration_new(db_path, iot, config, error);
	conn = fst_central_station_connect(workspace, error);
	if (conn == NULL || !fst_central_check_schema(conn, error))
		return NULL;
	if (registrar == NULL) {
		station = fst_central_station_read_name(workspace, error);
		if (station == NULL)
			return NULL;
		name = g_strdup_printf("%s@%s:%d", station, g_get_host_name(), (gint)getpid());
	}
	return fst_registration_new_central(db_path,
	                                    g_steal_pointer(&conn),
	                                    registrar != NULL ? registrar : name,
	                                    iot,
	                                    config,
	                                    error);
}

/* where the AWS calls go: the options every AWS subcommand takes */
typedef struct {
	gchar *aws_profile; /* (nullable) */
	gchar *region;      /* (nullable) */
	gchar *endpoint;    /* (nullable) */
	gdouble rate;       /* requests a second, 0: no limit */
} FstCliAws;

static void
fst_cli_aws_clear(FstCliAws *aws)
{
	g_clear_pointer(&aws->aws_profile, g_free);
	g_clear_pointer(&aws->region, g_free);
	g_clear_pointer(&aws->endpoint, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstCliAws, fst_cli_aws_clear)

/* the AWS IoT client the options and the AWS CLI's settings make */
static FstAwsIot *
fst_cli_aws_iot(const FstCliAws *aws, GError **error)
{
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_load(aws->aws_profile, aws->region, aws->endpoint, error);
	FstAwsIot *iot;

	if (creds == NULL)
		return NULL;
	iot = fst_aws_iot_new(creds, error);
	if (iot != NULL)
		fst_aws_iot_set_rate(iot, aws->rate);
	return iot;
}

/* register export: the bulk-registration files of a lot, or with a bucket
 * the whole AWS bulk registration (upload, task, reports, reconciliation) */
static FstExit
fst_cli_register_export(const gchar *db_path,
                        const gchar *lot,
                        const gchar *out_dir,
                        gint hold_hours,
                        const gchar *thing_name,
                        const gchar *policy,
                        const gchar *bucket,
                        const gchar *role_arn,
                        const FstCliAws *aws,
                        gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();

	g_autofree gchar *dir = g_strdup(out_dir != NULL ? out_dir : ".");
	guint n = 0;
	if (lot == NULL) {
		g_printerr("fleetstation register export: give --lot LOT\n");
		return FST_EXIT_USAGE;
	}
	if (bucket != NULL) {
		g_autoptr(FstAwsIot) iot = NULL;
		guint n_ok = 0, n_failed = 0;
		if (role_arn == NULL) {
			g_printerr("fleetstation register export: --bucket needs --role-arn\n");
			return FST_EXIT_USAGE;
		}
		iot = fst_cli_aws_iot(aws, &error);
		if (iot == NULL)
			return fst_cli_fail("register", json, error);
		if (!fst_registration_bulk_register(db_path,
		                                    iot,
		                                    lot,
		                                    thing_name,
		                                    policy,
		                                    dir,
		                                    bucket,
		                                    role_arn,
		                                    2 * G_USEC_PER_SEC,
		                                    &n_ok,
		                                    &n_failed,
		                                    NULL,
		                                    &error))
			return fst_cli_fail("register", json, error);
		if (json) {
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "event", "register-bulk");
			fst_cli_json_add_string(b, "lot", lot);
			json_builder_set_member_name(b, "registered");
			json_builder_add_int_value(b, n_ok);
			json_builder_set_member_name(b, "failed");
			json_builder_add_int_value(b, n_failed);
			json_builder_end_object(b);
			fst_cli_print_builder(b);
		} else {
			g_print("lot %s: %u registered by the AWS bulk registration task, %u "
			        "refused (see register status --state failed)\n",
			        lot,
			        n_ok,
			        n_failed);
		}
		return n_failed > 0 ? FST_EXIT_DEVICES_FAILED : FST_EXIT_OK;
	}
	if (!fst_registration_export(db_path,
	                             lot,
	                             thing_name,
	                             policy,
	                             dir,
	                             (gint64)(hold_hours > 0 ? hold_hours : 72) * 3600 *
	                                 G_USEC_PER_SEC,
	                             &n,
	                             &error))
		return fst_cli_fail("register", json, error);
	if (json) {
		g_autofree gchar *pp = g_strdup_printf("%s/%s-params.jsonl", dir, lot);
		g_autofree gchar *tp = g_strdup_printf("%s/%s-template.json", dir, lot);
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "register-export");
		fst_cli_json_add_string(b, "lot", lot);
		fst_cli_json_add_string(b, "params", pp);
		fst_cli_json_add_string(b, "template", tp);
		json_builder_set_member_name(b, "certificates");
		json_builder_add_int_value(b, n);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else {
		g_print("wrote %s/%s-params.jsonl (%u certificates) and %s/%s-template.json: "
		        "start an AWS bulk registration task with them, then run "
		        "`fleetstation register import-results --params %s/%s-params.jsonl "
		        "REPORT...`\n",
		        dir,
		        lot,
		        n,
		        dir,
		        lot,
		        dir,
		        lot);
	}
	return FST_EXIT_OK;
}

/* register import-results: AWS bulk registration reports fetched by hand */
static FstExit
fst_cli_register_import(const gchar *db_path,
                        const gchar *params_file,
                        const gchar *const *reports,
                        gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	guint n_ok = 0, n_failed = 0;
	if (params_file == NULL || reports == NULL || reports[0] == NULL) {
		g_printerr("fleetstation register import-results: give --params FILE and one "
		           "or more REPORT files\n");
		return FST_EXIT_USAGE;
	}
	if (!fst_registration_import_results(
	        db_path, params_file, reports, &n_ok, &n_failed, &error))
		return fst_cli_fail("register", json, error);
	if (json) {
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "register-import-results");
		json_builder_set_member_name(b, "registered");
		json_builder_add_int_value(b, n_ok);
		json_builder_set_member_name(b, "failed");
		json_builder_add_int_value(b, n_failed);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else {
		g_print("%u registered, %u refused by AWS (see register status --state "
		        "failed)\n",
		        n_ok,
		        n_failed);
	}
	return n_failed > 0 ? FST_EXIT_DEVICES_FAILED : FST_EXIT_OK;
}

/* the profiles of the certificates in the queue, by name: from --profile
 * files, else the workspace's or the templates' profiles of that name; a
 * profile found nowhere leaves its certificates to the options */
static GHashTable *
fst_cli_register_profiles(const gchar *workspace,
                          FstDbQueue *queue,
                          const gchar *const *files,
                          GError **error)
{
	g_autoptr(GHashTable) profiles = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, (GDestroyNotify)fst_profile_free);
	g_autoptr(GPtrArray) names = NULL;

	for (guint i = 0; files != NULL && files[i] != NULL; i++) {
		FstProfile *profile = fst_profile_load(files[i], error);
		if (profile == NULL)
			return NULL;
		g_hash_table_replace(profiles, g_strdup(fst_profile_get_name(profile)), profile);
	}
	names = fst_db_queue_list_profiles(queue, error);
	if (names == NULL)
		return NULL;
	for (guint i = 0; i < names->len; i++) {
		const gchar *name = g_ptr_array_index(names, i);
		g_autoptr(GError) error_local = NULL;
		FstProfile *profile;
		if (g_hash_table_contains(profiles, name))
			continue;
		profile = fst_station_find_profile(workspace, name, &error_local);
		if (profile == NULL) {
			g_printerr("certificates of profile %s: the profile is not found (%s): the "
			           "options decide what they get; give --profile FILE\n",
			           name,
			           error_local->message);
			continue;
		}
		g_hash_table_replace(profiles, g_strdup(name), profile);
	}
	return g_steal_pointer(&profiles);
}

/* register push: every due row now, each certificate as its profile's
 * [aws] group says, unless an option says otherwise */
static FstExit
fst_cli_register_push(const gchar *workspace,
                      const gchar *db_path,
                      gboolean central,
                      const gchar *registrar,
                      const FstCliAws *aws,
                      const gchar *thing_name,
                      const gchar *policy,
                      const gchar *policy_file,
                      const gchar *const *profile_files,
                      gboolean inactive,
                      gboolean with_ca,
                      gboolean without_ca,
                      gint max_attempts,
                      gint lease,
                      gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbQueue) queue = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GHashTable) profiles = NULL;
	g_autoptr(GHashTable) ca_pems = NULL;
	g_autofree gchar *policy_document = NULL;
	gint64 counts[4] = {0};
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstRegistration) worker = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	FstRegistrationConfig config = {0};
	FstRegistrationStats stats = {0};
	FstCliPush push = {0};
	guint sigint_id, sigterm_id;

	if (with_ca && without_ca) {
		g_printerr(
		    "fleetstation register push: give --with-ca or --without-ca, not both\n");
		return FST_EXIT_USAGE;
	}

	if (policy_file != NULL &&
	    !g_file_get_contents(policy_file, &policy_document, NULL, &error)) {
		fst_error_convert_gio(&error);
		return fst_cli_fail("register", json, error);
	}
	iot = fst_cli_aws_iot(aws, &error);
	if (iot == NULL)
		return fst_cli_fail("register", json, error);
	/* migrated first, if it is older: the queue's connection does not */
	db = fst_db_open(db_path, &error);
	if (db == NULL)
		return fst_cli_fail("register", json, error);
	queue = fst_db_queue_open(db_path, &error);
	if (queue == NULL)
		return fst_cli_fail("register", json, error);
	profiles = fst_cli_register_profiles(workspace, queue, profile_files, &error);
	if (profiles == NULL)
		return fst_cli_fail("register", json, error);
	{
		g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
		ca_pems = fst_ca_store_issuing_pems(ca_dir);
	}
	config.thing_name_template = thing_name;
	config.policy_name = policy;
	config.policy_document = policy_document;
	config.inactive = inactive;
	config.with_ca = with_ca;
	config.ca_pems = ca_pems;
	config.profiles = profiles;
	if (thing_name != NULL)
		config.overrides |= FST_REGISTRATION_OVERRIDE_THING_NAME;
	if (policy != NULL)
		config.overrides |= FST_REGISTRATION_OVERRIDE_POLICY;
	if (with_ca || without_ca)
		config.overrides |= FST_REGISTRATION_OVERRIDE_WITH_CA;
	if (inactive)
		config.overrides |= FST_REGISTRATION_OVERRIDE_STATUS;
	config.max_attempts = max_attempts > 0 ? (guint)max_attempts : 0;
	config.lease_us = lease > 0 ? (gint64)lease * G_USEC_PER_SEC : 0;
	/* the database is migrated by fst_db_open() in the worker */
	worker =
	    fst_cli_register_worker(workspace, db_path, central, registrar, iot, &config, &error);
	if (worker == NULL)
		return fst_cli_fail("register", json, error);
	push.worker = worker;
	push.cancellable = cancellable;
	sigint_id = g_unix_signal_add(SIGINT, fst_cli_register_sigint_cb, cancellable);
	sigterm_id = g_unix_signal_add(SIGTERM, fst_cli_register_sigint_cb, cancellable);
	fst_cli_run(fst_cli_register_push_job, &push);
	g_source_remove(sigint_id);
	g_source_remove(sigterm_id);
	fst_registration_get_stats(worker, &stats);
	if (!push.ok) {
		g_autoptr(GError) failure = push.error;
		return fst_cli_fail("register", json, failure);
	}
	if (central) {
		g_autoptr(FstCentral) conn = fst_central_station_connect(workspace, &error);
		if (conn == NULL || !fst_central_count_registrations(conn, counts, &error))
			return fst_cli_fail("register", json, error);
	} else if (!fst_db_queue_count(queue, NULL, counts, &error)) {
		return fst_cli_fail("register", json, error);
	}
	if (json) {
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "register-push");
		json_builder_set_member_name(b, "central");
		json_builder_add_boolean_value(b, central);
		fst_cli_json_add_string(b, "endpoint", fst_aws_iot_get_endpoint(iot));
		json_builder_set_member_name(b, "registered");
		json_builder_add_int_value(b, stats.registered);
		json_builder_set_member_name(b, "found_registered");
		json_builder_add_int_value(b, stats.found);
		json_builder_set_member_name(b, "deactivated");
		json_builder_add_int_value(b, stats.deactivated);
		json_builder_set_member_name(b, "revoked");
		json_builder_add_int_value(b, stats.revoked);
		json_builder_set_member_name(b, "deferred");
		json_builder_add_int_value(b, stats.deferred);
		json_builder_set_member_name(b, "failed");
		json_builder_add_int_value(b, stats.failed);
		json_builder_set_member_name(b, "requests");
		json_builder_add_int_value(b, fst_aws_iot_get_request_count(iot));
		json_builder_set_member_name(b, "retries");
		json_builder_add_int_value(b, fst_aws_iot_get_retry_count(iot));
		fst_cli_register_counts_json(b, counts);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else {
		g_print("registered %u (%u found registered already), deactivated %u, revoked %u, "
		        "put back %u, failed %u; %u AWS requests (%u retried) to %s\n"
		        "%s: %" G_GINT64_FORMAT " pending, %" G_GINT64_FORMAT
		        " in progress, %" G_GINT64_FORMAT " done, %" G_GINT64_FORMAT " failed\n",
		        stats.registered,
		        stats.found,
		        stats.deactivated,
		        stats.revoked,
		        stats.deferred,
		        stats.failed,
		        fst_aws_iot_get_request_count(iot),
		        fst_aws_iot_get_retry_count(iot),
		        fst_aws_iot_get_endpoint(iot),
		        central ? "central queue" : "queue",
		        counts[0],
		        counts[1],
		        counts[2],
		        counts[3]);
	}
	return stats.failed > 0 ? FST_EXIT_DEVICES_FAILED : FST_EXIT_OK;
}

/* register reconcile: the database against what AWS IoT holds, changing
 * neither (fst_aws_reconcile(), which records the check as an audit event);
 * exit 1 when anything differs */
static FstExit
fst_cli_register_reconcile(const gchar *workspace,
                           const gchar *db_path,
                           const FstCliAws *aws,
                           gint delete_after_minutes,
                           FstCliOutput mode,
                           gboolean json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAwsReconcile) result = NULL;
	guint left = 0;

	iot = fst_cli_aws_iot(aws, &error);
	if (iot == NULL)
		return fst_cli_fail("register", json, error);
	db = fst_db_open(db_path, &error);
	if (db == NULL)
		return fst_cli_fail("register", json, error);
	result = fst_aws_reconcile(iot, db, workspace, NULL, &error);
	if (result == NULL)
		return fst_cli_fail("register", json, error);
	if (delete_after_minutes >= 0 &&
	    !fst_aws_reconcile_delete_leftovers(
	        result, iot, db, (gint64)delete_after_minutes * 60 * G_USEC_PER_SEC, NULL, &error))
		return fst_cli_fail("register", json, error);
	for (guint i = 0; i < result->findings->len; i++) {
		FstAwsFinding *f = g_ptr_array_index(result->findings, i);
		if (!f->deleted)
			left++;
	}
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "event", "register-reconcile");
		fst_cli_json_add_string(b, "target", result->target);
		fst_cli_json_add_string(b, "endpoint", fst_aws_iot_get_endpoint(iot));
		json_builder_set_member_name(b, "recorded");
		json_builder_add_int_value(b, result->recorded);
		json_builder_set_member_name(b, "listed");
		json_builder_add_int_value(b, result->listed);
		json_builder_set_member_name(b, "matched");
		json_builder_add_int_value(b, result->matched);
		json_builder_set_member_name(b, "inactive_read");
		json_builder_add_int_value(b, result->read);
		json_builder_set_member_name(b, "inactive_unread");
		json_builder_add_int_value(b, result->unread);
		json_builder_set_member_name(b, "cas");
		json_builder_begin_array(b);
		for (guint i = 0; i < result->cas->len; i++)
			json_builder_add_string_value(b, g_ptr_array_index(result->cas, i));
		json_builder_end_array(b);
		json_builder_set_member_name(b, "cas_not_registered");
		json_builder_begin_array(b);
		for (guint i = 0; i < result->cas_unknown->len; i++)
			json_builder_add_string_value(b, g_ptr_array_index(result->cas_unknown, i));
		json_builder_end_array(b);
		json_builder_set_member_name(b, "findings");
		json_builder_begin_array(b);
		for (guint i = 0; i < result->findings->len; i++) {
			FstAwsFinding *f = g_ptr_array_index(result->findings, i);
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "kind", fst_aws_finding_kind_to_string(f->kind));
			fst_cli_json_add_string(b, "aws_cert_id", f->aws_cert_id);
			fst_cli_json_add_string(b, "aws_status", f->aws_status);
			fst_cli_json_add_string(b, "serial", f->serial_hex);
			fst_cli_json_add_string(b, "device", f->device_uid);
			fst_cli_json_add_string(b, "state", f->state);
			fst_cli_json_add_string(b, "ca_sha256", f->ca_sha256);
			fst_cli_json_add_string(b, "advice", f->advice);
			json_builder_set_member_name(b, "deleted");
			json_builder_add_boolean_value(b, f->deleted);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	} else {
		g_autoptr(FstCliTable) table = fst_cli_table_new(mode);
		if (mode == FST_CLI_OUTPUT_TABLE) {
			g_print("%s: %u certificates recorded, %u at AWS, %u in both; %u CA(s) "
			        "asked for, %u not registered at AWS; %u finding(s)\n",
			        result->target,
			        result->recorded,
			        result->listed,
			        result->matched,
			        result->cas->len,
			        result->cas_unknown->len,
			        result->findings->len);
			if (result->unread > 0)
				g_print(
				    "%u unrecorded INACTIVE certificates under no CA of the "
				    "station's were not read for their key: %u are read a run\n",
				    result->unread,
				    result->read);
		}
		fst_cli_table_add_column(table, "KIND", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "AWS STATUS", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "SERIAL", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "DEVICE", FST_CLI_COLUMN_NONE);
		fst_cli_table_add_column(table, "AWS ID", FST_CLI_COLUMN_NONE);
		/* a table gives each distinct advice once, below it */
		if (mode == FST_CLI_OUTPUT_PLAIN)
			fst_cli_table_add_column(table, "WHAT TO DO", FST_CLI_COLUMN_NONE);
		for (guint i = 0; i < result->findings->len; i++) {
			FstAwsFinding *f = g_ptr_array_index(result->findings, i);
			fst_cli_table_add_row(table,
			                      fst_aws_finding_kind_to_string(f->kind),
			                      f->deleted              ? "deleted"
			                      : f->aws_status != NULL ? f->aws_status
			                                              : "absent",
			                      f->serial_hex,
			                      f->device_uid,
			                      f->aws_cert_id,
			                      f->advice);
		}
		if (result->findings->len > 0 || mode == FST_CLI_OUTPUT_PLAIN)
			fst_cli_table_print(table);
		if (mode == FST_CLI_OUTPUT_TABLE) {
			g_autoptr(GHashTable) told = g_hash_table_new(g_str_hash, g_str_equal);
			for (guint i = 0; i < result->findings->len; i++) {
				FstAwsFinding *f = g_ptr_array_index(result->findings, i);
				if (f->deleted || !g_hash_table_add(told, f->advice))
					continue;
				g_print("%s%s: %s\n",
				        g_hash_table_size(told) == 1 ? "\nWhat to do:\n" : "",
				        fst_aws_finding_kind_to_string(f->kind),
				        f->advice);
			}
		}
	}
	return left > 0 ? FST_EXIT_DEVICES_FAILED : FST_EXIT_OK;
}

/**
 * fst_cli_register:
 * @argc: arguments, argv[0] = "register"
 * @argv: (array length=argc): the arguments
 *
 * `fleetstation register status|push|retry`.
 *
 * Returns: an exit code
 */
/* `register status` as a table or plain rows (the counts above a table) */
static FstExit
fst_cli_register_status_table(FstCliOutput mode, GPtrArray *items, const gint64 *counts)
{
	g_autoptr(FstCliTable) table = fst_cli_table_new(mode);

	if (mode == FST_CLI_OUTPUT_TABLE)
		g_print("%" G_GINT64_FORMAT " pending, %" G_GINT64_FORMAT
		        " in progress, %" G_GINT64_FORMAT " done, %" G_GINT64_FORMAT " failed\n",
		        counts[0],
		        counts[1],
		        counts[2],
		        counts[3]);
	fst_cli_table_add_column(table, "SERIAL", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "ACTION", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "STATE", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "TARGET", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(table, "REMOTE ID", FST_CLI_COLUMN_TRUNC);
	fst_cli_table_add_column(table, "LAST ERROR", FST_CLI_COLUMN_TRUNC);
	for (guint i = 0; i < items->len; i++) {
		FstDbQueueItem *item = g_ptr_array_index(items, i);
		fst_cli_table_add_row(table,
		                      item->serial_hex,
		                      item->action,
		                      item->state,
		                      item->target,
		                      item->remote_id,
		                      item->last_error);
	}
	if (items->len > 0 || mode == FST_CLI_OUTPUT_PLAIN)
		fst_cli_table_print(table);
	return FST_EXIT_OK;
}

FstExit
fst_cli_register(gint argc, gchar **argv)
{
	g_autofree gchar *workspace = NULL;
	g_autofree gchar *db_path = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *lot = NULL;
	g_auto(FstCliAws) aws = {0};
	g_autofree gchar *thing_name = NULL;
	g_autofree gchar *policy = NULL;
	g_autofree gchar *policy_file = NULL;
	g_autofree gchar *policy_document = NULL;
	gint max_attempts = 0;
	gint lease = 0;
	gint hold_hours = 0;
	gint delete_after = G_MININT; /* not given */
	g_autofree gchar *out_dir = NULL;
	g_autofree gchar *params_file = NULL;
	g_autofree gchar *bucket = NULL;
	g_autofree gchar *role_arn = NULL;
	gboolean inactive = FALSE;
	gboolean central = FALSE;
	g_autofree gchar *registrar = NULL;
	gboolean with_ca = FALSE;
	gboolean without_ca = FALSE;
	g_auto(GStrv) profile_files = NULL;
	gboolean json = FALSE;
	g_autofree gchar *output = NULL;
	FstCliOutput mode;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace,
	     "Workspace (default: $FLEETSTATION_WORKSPACE, else $XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the result as one JSON object", NULL},
	    FST_CLI_OUTPUT_ENTRY(output),
	    {"state",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &state,
	     "status: only rows in this state",
	     "STATE"},
	    {"lot",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &lot,
	     "status: only certificates of this lot",
	     "LOT"},
	    {"aws-profile",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &aws.aws_profile,
	     "AWS profile (else $AWS_PROFILE)",
	     "NAME"},
	    {"region",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &aws.region,
	     "AWS region (else $AWS_REGION, the profile)",
	     "REGION"},
	    {"endpoint-url",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &aws.endpoint,
	     "Another AWS IoT endpoint",
	     "URL"},
	    {"thing-name",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &thing_name,
	     "push: thing name template, {uid} {serial} {aws_cert_id} {lot} (default {uid})",
	     "TEMPLATE"},
	    {"policy",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &policy,
	     "push: attach this AWS IoT policy",
	     "NAME"},
	    {"policy-file",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &policy_file,
	     "push: create the policy from this JSON if AWS has none of that name",
	     "FILE"},
	    {"inactive",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &inactive,
	     "push: register certificates INACTIVE",
	     NULL},
	    {"with-ca",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &with_ca,
	     "push: register with the issuing CA (RegisterCertificate), whatever the profile says",
	     NULL},
	    {"without-ca",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &without_ca,
	     "push: register without CA (RegisterCertificateWithoutCA), whatever the profile says",
	     NULL},
	    {"profile",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME_ARRAY,
	     &profile_files,
	     "push: a profile file certificates were issued with, if it is not in the templates "
	     "(repeatable)",
	     "FILE"},
	    {"rate",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &aws.rate,
	     "push: at most N AWS requests a second",
	     "N"},
	    {"max-attempts",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &max_attempts,
	     "push: tries of a certificate before it is failed (default 10)",
	     "N"},
	    {"lease",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &lease,
	     "push: seconds a taken row stays this station's (default 60)",
	     "SECONDS"},
	    {"central",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &central,
	     "push: work the central registry's queue (every station's rows; several "
	     "registrars may run at once)",
	     NULL},
	    {"registrar",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &registrar,
	     "push --central: this registrar's name in the queue (default STATION@HOST:PID)",
	     "NAME"},
	    {"out",
	     'o',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &out_dir,
	     "export: write LOT-params.jsonl and LOT-template.json here (default .)",
	     "DIR"},
	    {"hold",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &hold_hours,
	     "export: hours the rows wait for the task's results (default 72)",
	     "HOURS"},
	    {"bucket",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &bucket,
	     "export: upload to this S3 bucket, run the AWS bulk registration task, reconcile",
	     "BUCKET"},
	    {"role-arn",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &role_arn,
	     "export --bucket: the role AWS IoT registers as",
	     "ARN"},
	    {"params",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &params_file,
	     "import-results: the parameter file the task read",
	     "FILE"},
	    {"delete-leftovers",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &delete_after,
	     "reconcile: delete at AWS the INACTIVE certificates AWS made for a recorded "
	     "device's key that no record names (left by a run stopped before its record), "
	     "made at least MINUTES ago (60 leaves any run at work alone)",
	     "MINUTES"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new(
	    "status|push|retry [SERIAL]|reconcile|export|import-results REPORT... - the AWS IoT "
	    "registration queue");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbQueue) queue = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	const gchar *sub;
	gint64 counts[4] = {0};

	g_option_context_set_description(
	    context,
	    "Certificates enter the queue when they are recorded, if the profile registers\n"
	    "them; a worker in provision, batch and watch drains it in the background, and\n"
	    "`register push` drains it now. AWS credentials, region and endpoint are found\n"
	    "as the AWS CLI finds them (AWS_ACCESS_KEY_ID..., ~/.aws/credentials, ~/.aws/config\n"
	    "with its keys or its credential_process).\n"
	    "Every AWS call that changes state is an audit event of the "
	    "device.\n\n"
	    "`register reconcile` compares the database with what AWS IoT holds in the region,\n"
	    "changing nothing: certificates of the station's CAs AWS has and no record\n"
	    "explains, INACTIVE ones AWS made for a recorded device's key (unrecorded),\n"
	    "certificates registered and in service that AWS no longer has (missing), and\n"
	    "revoked ones ACTIVE at AWS (revoked-active), each with what to do; it exits 1\n"
	    "when it finds any. Each check is an audit event (aws-reconcile). With\n"
	    "--delete-leftovers, the INACTIVE certificates AWS made for a recorded device's\n"
	    "key are deleted there (aws-delete-certificate events of their devices), and\n"
	    "it exits 1 only when anything else is left.\n\n" FST_CLI_EXIT_CODES);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "register", &argc, &argv))
		return FST_EXIT_USAGE;
	if (!fst_cli_output_resolve("register", output, &json, &mode))
		return FST_EXIT_USAGE;
	if (argc < 2) {
		g_printerr("fleetstation register: give status, push, retry, reconcile, export or "
		           "import-results (see --help)\n");
		return FST_EXIT_USAGE;
	}
	sub = argv[1];
	if (delete_after != G_MININT && (delete_after < 0 || g_strcmp0(sub, "reconcile") != 0))
		return fst_cli_usage_error(
		    "register",
		    json,
		    "--delete-leftovers goes with reconcile, and takes minutes "
		    "(0 or more)");
	{
		g_autofree gchar *option = g_steal_pointer(&workspace);
		workspace = fst_cli_workspace(option);
	}
	if (!fst_station_check_records(workspace, &error))
		return fst_cli_fail("register", json, error);
	db_path = g_build_filename(workspace, "station.db", NULL);

	if (g_strcmp0(sub, "push") == 0)
		return fst_cli_register_push(workspace,
		                             db_path,
		                             central,
		                             registrar,
		                             &aws,
		                             thing_name,
		                             policy,
		                             policy_file,
		                             (const gchar *const *)profile_files,
		                             inactive,
		                             with_ca,
		                             without_ca,
		                             max_attempts,
		                             lease,
		                             json);

	if (g_strcmp0(sub, "export") == 0)
		return fst_cli_register_export(db_path,
		                               lot,
		                               out_dir,
		                               hold_hours,
		                               thing_name,
		                               policy,
		                               bucket,
		                               role_arn,
		                               &aws,
		                               json);
	if (g_strcmp0(sub, "reconcile") == 0)
		return fst_cli_register_reconcile(workspace,
		                                  db_path,
		                                  &aws,
		                                  delete_after != G_MININT ? delete_after : -1,
		                                  mode,
		                                  json);
	if (g_strcmp0(sub, "import-results") == 0)
		return fst_cli_register_import(
		    db_path, params_file, argc > 2 ? (const gchar *const *)argv + 2 : NULL, json);

	queue = fst_db_queue_open(db_path, &error);
	if (queue == NULL)
		return fst_cli_fail("register", json, error);
	if (g_strcmp0(sub, "status") == 0) {
		g_autoptr(GPtrArray) items = fst_db_queue_list(queue, state, lot, &error);
		if (items == NULL || !fst_db_queue_count(queue, NULL, counts, &error))
			return fst_cli_fail("register", json, error);
		if (json) {
			json_builder_begin_object(b);
			fst_cli_register_counts_json(b, counts);
			json_builder_set_member_name(b, "registrations");
			json_builder_begin_array(b);
			for (guint i = 0; i < items->len; i++)
				fst_cli_register_item_json(b, g_ptr_array_index(items, i));
			json_builder_end_array(b);
			json_builder_end_object(b);
			fst_cli_print_builder(b);
			return FST_EXIT_OK;
		}
		return fst_cli_register_status_table(mode, items, counts);
	}
	if (g_strcmp0(sub, "retry") == 0) {
		g_autofree gchar *serial = NULL;
		gint64 n;
		if (argc > 2) {
			serial = fst_cli_serial_from_arg(argv[2]);
			if (serial == NULL) {
				g_printerr("fleetstation register: %s is not a hex serial number\n",
				           argv[2]);
				return FST_EXIT_USAGE;
			}
		}
		n = fst_db_queue_retry_failed(queue, serial, &error);
		if (n < 0)
			return fst_cli_fail("register", json, error);
		if (json) {
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "event", "register-retry");
			json_builder_set_member_name(b, "requeued");
			json_builder_add_int_value(b, n);
			json_builder_end_object(b);
			fst_cli_print_builder(b);
		} else {
			g_print("%" G_GINT64_FORMAT " failed registration(s) back in the queue\n",
			        n);
		}
		return FST_EXIT_OK;
	}
	g_printerr("fleetstation register: unknown subcommand %s: give status, push, retry, "
	           "reconcile, export or import-results\n",
	           sub);
	return FST_EXIT_USAGE;
}
