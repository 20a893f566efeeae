/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-dev.h"

G_BEGIN_DECLS

/**
 * FstDevsimConfig:
 *
 * How the simulated device looks. Strings are borrowed for the call of
 * fst_devsim_hal_new() only.
 */
typedef struct {
	const gchar *uid;
	const gchar *model;
	const gchar *firmware;
	const gchar *storage_path; /* (nullable): in memory only when %NULL */
	guint32 key_types;         /* FstKeyType bits */
	guint32 validation;        /* FstValidation bits */
	guint8 format;             /* 0 = PEM, 1 = DER */
	guint32 capacity_cert;
	guint32 capacity_chain;
	guint32 capacity_roots;
	guint baud; /* 0 = unthrottled */
	guint64 seed;
	gboolean no_csr;      /* key-injection only: no KEYGEN, takes PUT_KEY */
	gboolean pubkey_only; /* makes keys but no CSR: KEYGEN form PUBKEY only */
	guint cred_slots;     /* 0 or 1: one credential slot; 2: A/B slots */
	gboolean no_nak;      /* firmware before FSP document 1.4: no NAK frames */
	gboolean no_digest;   /* firmware before FSP document 1.5: no DIGEST */
	guint version_max;    /* 0: FSP 1; N > 1: a newer firmware that also speaks 1 */
	/* storage faults (see protocols/sim/README.md) */
	guint fault_reboot_in_write;     /* reboot during the Nth WRITE (1-based), 0 = never */
	guint8 fault_corrupt_object;     /* commit a corrupted copy of this object id, 0 = none */
	guint32 fault_storage_limit;     /* bytes the flash really holds, 0 = the capacities */
	gboolean fault_wrong_key;        /* SIGN_CHALLENGE signs with another key */
	gboolean fault_replay_signature; /* answers every challenge with the first signature */
	const gchar *fault_fixed_key;    /* (nullable): PEM file every KEYGEN gives */
} FstDevsimConfig;

#define FST_DEVSIM_CAPACITY_CERT 4096u
#define FST_DEVSIM_CAPACITY_CHAIN 8192u
#define FST_DEVSIM_CAPACITY_ROOTS 16384u
/* the CSR slot: a CSR for RSA-4096 is about 1.2 KB in DER */
#define FST_DEVSIM_CAPACITY_CSR 4096u
/* the signature slot: an RSA-4096 signature is 512 bytes */
#define FST_DEVSIM_CAPACITY_SIGNATURE 1024u

/**
 * FstDevsimTxFilter:
 * @bytes: a copy of the bytes about to go to the station; the filter may
 *   change, remove or add bytes (the replay cache keeps the original)
 * @user_data: from fst_devsim_hal_set_tx_filter()
 *
 * The fault-injection point: sees every response before it is written.
 *
 * Returns: %FALSE to drop the bytes
 */
typedef gboolean (*FstDevsimTxFilter)(GByteArray *bytes, gpointer user_data);

typedef struct _FstDevsimHal FstDevsimHal;

gboolean fst_devsim_hal_warm_up(void);
FstDevsimHal *fst_devsim_hal_new(const FstDevsimConfig *config, GError **error);
void fst_devsim_hal_free(FstDevsimHal *self);
const FstDevHal *fst_devsim_hal_get_hal(FstDevsimHal *self);
FstDevIdentity *fst_devsim_hal_get_identity(FstDevsimHal *self);
void fst_devsim_hal_set_fd(FstDevsimHal *self, int fd);
void fst_devsim_hal_set_tx_filter(FstDevsimHal *self, FstDevsimTxFilter filter, gpointer user_data);
GBytes *fst_devsim_hal_get_object(FstDevsimHal *self, guint8 id);
guint fst_devsim_hal_get_commit_count(FstDevsimHal *self);
guint fst_devsim_hal_get_keygen_count(FstDevsimHal *self);
void fst_devsim_hal_throttle(FstDevsimHal *self, gsize n_bytes);
gboolean fst_devsim_hal_take_reboot(FstDevsimHal *self);
gboolean fst_devsim_hal_is_locked(FstDevsimHal *self);
gint64 fst_devsim_hal_get_throttle_us(FstDevsimHal *self);
gboolean fst_devsim_object_from_name(const gchar *name, guint8 *id);
guint fst_devsim_hal_get_active_slot(FstDevsimHal *self);
guint fst_devsim_hal_get_cred_slots(FstDevsimHal *self);
GBytes *fst_devsim_hal_get_public_key(FstDevsimHal *self, guint slot, gboolean staged);
guint32 fst_devsim_hal_get_key_type(FstDevsimHal *self, guint slot);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDevsimHal, fst_devsim_hal_free)

G_END_DECLS
