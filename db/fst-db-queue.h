/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * FstDbQueue:
 *
 * The registration queue (`registrations`) on a connection of its own, for a
 * worker thread that drains it while the line records devices on another.
 */
typedef struct _FstDbQueue FstDbQueue;

/**
 * FstDbQueueItem:
 * @id: the row
 * @device_id: the device the certificate belongs to
 * @device_uid: its uid
 * @serial_hex: the certificate's serial
 * @aws_cert_id: SHA-256 of its DER, hex: AWS's certificate id
 * @der: the certificate
 * @issuer_sha256: (nullable): SHA-256 of the issuing CA's DER
 * @lot: (nullable): the lot it was made in
 * @target: where, e.g. "aws-iot:eu-west-1", or "*" (a deactivate row)
 * @action: "register", "deactivate" or "revoke"
 * @state: "pending", "in-progress", "done" or "failed"
 * @remote_id: (nullable): the ARN once known
 * @last_error: (nullable): why the last try failed
 * @attempts: tries, this one included once claimed
 * @resumed: the row was claimed by a run that did not finish it (killed):
 *   AWS may have it already, ask before doing it again
 * @updated_at: unix microseconds
 * @profile: (nullable): the name of the profile the certificate was issued with
 * @cert_state: the certificate's state, e.g. "verified" or "revoked"
 *
 * One row of the queue with what a worker needs to act on it.
 */
typedef struct {
	gint64 id;
	gint64 device_id;
	gchar *device_uid;
	gchar *serial_hex;
	gchar *aws_cert_id;
	GBytes *der;
	gchar *issuer_sha256;
	gchar *lot;
	gchar *target;
	gchar *action;
	gchar *state;
	gchar *remote_id;
	gchar *last_error;
	gint attempts;
	gboolean resumed;
	gint64 updated_at;
	gchar *profile;
	gchar *cert_state;
} FstDbQueueItem;

void fst_db_queue_item_free(FstDbQueueItem *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbQueueItem, fst_db_queue_item_free)

FstDbQueue *fst_db_queue_open(const gchar *path, GError **error);
void fst_db_queue_free(FstDbQueue *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbQueue, fst_db_queue_free)

void fst_db_queue_set_target(FstDbQueue *self, const gchar *target);
FstDbQueueItem *
fst_db_queue_claim(FstDbQueue *self, gint64 now_us, gint64 lease_us, GError **error);
gboolean fst_db_queue_set_remote_id(
    FstDbQueue *self, gint64 id, const gchar *remote_id, gint64 lease_until_us, GError **error);
gboolean fst_db_queue_finish(FstDbQueue *self, gint64 id, const gchar *remote_id, GError **error);
gboolean fst_db_queue_defer(
    FstDbQueue *self, gint64 id, gint64 next_attempt_us, const gchar *last_error, GError **error);
gboolean fst_db_queue_fail(FstDbQueue *self, gint64 id, const gchar *last_error, GError **error);
gint64 fst_db_queue_retry_failed(FstDbQueue *self, const gchar *serial_hex, GError **error);
GPtrArray *
fst_db_queue_list(FstDbQueue *self, const gchar *state, const gchar *lot, GError **error);
gboolean
fst_db_queue_count(FstDbQueue *self, const gchar *action, gint64 counts[4], GError **error);
GPtrArray *fst_db_queue_list_profiles(FstDbQueue *self, GError **error);
gboolean fst_db_queue_hold(FstDbQueue *self, gint64 id, gint64 until_us, GError **error);
FstDbQueueItem *
fst_db_queue_find_by_aws_id(FstDbQueue *self, const gchar *aws_cert_id, GError **error);
FstDbQueueItem *
fst_db_queue_find(FstDbQueue *self, const gchar *serial_hex, const gchar *action, GError **error);

G_END_DECLS
