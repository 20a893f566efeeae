/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "fst-device-info.h"
#include "fst-secret.h"
#include "fst-transport.h"

G_BEGIN_DECLS

#define FST_TYPE_DEVICE (fst_device_get_type())

/* digest_object: a dialect whose device reports no length (the hash covers it) */
#define FST_DEVICE_LENGTH_UNKNOWN G_MAXUINT32
G_DECLARE_DERIVABLE_TYPE(FstDevice, fst_device, FST, DEVICE, GObject)

/**
 * FstDeviceClass:
 * @identify: asks the device who it is; sets the info returned by
 *   fst_device_get_info()
 * @generate_csr: has the device generate a key of @key_type in the key slot
 *   of credential slot @slot and returns the DER CSR for it (the private key
 *   never leaves the device)
 * @write_object: stores @data as @kind of credential slot @slot; atomic on the
 *   device side: either the whole new object replaces the old one or the old
 *   one stays
 * @read_object: reads back what @kind of @slot holds; %FST_ERROR_NOT_FOUND if
 *   nothing
 * @sign_challenge: has the device sign @nonce with the key of slot @slot;
 *   returns the signature and sets @message to the exact bytes signed (the
 *   dialect may put a domain prefix before the nonce); SHA-256 for every
 *   key type, ECDSA signatures in DER, RSA PKCS#1 v1.5 (fst_ca_verify_challenge())
 * @put_key: stores a station-made private key (PKCS#8 DER in @key) of
 *   @key_type in the key slot of @slot; the dialect wipes every copy it makes
 * @lock: makes the device credentials read-only for ever
 * @generate_public_key: like @generate_csr, for devices that cannot build a
 *   CSR: returns the DER SubjectPublicKeyInfo of the new key; possession is
 *   then proven with @sign_challenge
 * @activate_slot: makes the device's TLS stack use credential slot @slot from
 *   now on (persistent); refused when the slot has no key or no certificate
 * @set_option: takes a dialect option from the profile (e.g. sec-tag)
 * @digest_object: has the device re-read @kind of @slot from its storage and
 *   return its SHA-256 (32 bytes) and length, for devices whose info has
 *   can_digest
 *
 * Every @slot is checked by the fst_device_*() wrappers against
 * #FstDeviceInfo.cred_slots before the vfunc runs; slot 0 is what a device
 * without A/B slots has.
 *
 * A device dialect (FSP today; nRF91 AT commands, USB vendor protocols later)
 * over an #FstTransport. The pipeline talks only to this class.
 */
struct _FstDeviceClass {
	GObjectClass parent_class;
	gboolean (*identify)(FstDevice *self, GCancellable *cancellable, GError **error);
	GBytes *(*generate_csr)(FstDevice *self,
	                        guint slot,
	                        FstKeyType key_type,
	                        GCancellable *cancellable,
	                        GError **error);
	gboolean (*write_object)(FstDevice *self,
	                         guint slot,
	                         FstObjectKind kind,
	                         GBytes *data,
	                         GCancellable *cancellable,
	                         GError **error);
	GBytes *(*read_object)(FstDevice *self,
	                       guint slot,
	                       FstObjectKind kind,
	                       GCancellable *cancellable,
	                       GError **error);
	GBytes *(*sign_challenge)(FstDevice *self,
	                          guint slot,
	                          GBytes *nonce,
	                          GBytes **message,
	                          GCancellable *cancellable,
	                          GError **error);
	gboolean (*put_key)(FstDevice *self,
	                    guint slot,
	                    FstKeyType key_type,
	                    const FstSecret *key,
	                    GCancellable *cancellable,
	                    GError **error);
	gboolean (*lock)(FstDevice *self, GCancellable *cancellable, GError **error);
	GBytes *(*generate_public_key)(FstDevice *self,
	                               guint slot,
	                               FstKeyType key_type,
	                               GCancellable *cancellable,
	                               GError **error);
	gboolean (*activate_slot)(FstDevice *self,
	                          guint slot,
	                          GCancellable *cancellable,
	                          GError **error);
	gboolean (*set_option)(FstDevice *self,
	                       const gchar *key,
	                       const gchar *value,
	                       GError **error);
	GBytes *(*digest_object)(FstDevice *self,
	                         guint slot,
	                         FstObjectKind kind,
	                         guint32 *length,
	                         GCancellable *cancellable,
	                         GError **error);
	gpointer padding[1];
};

gboolean fst_device_identify(FstDevice *self, GCancellable *cancellable, GError **error);
GBytes *fst_device_generate_csr(
    FstDevice *self, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error);
GBytes *fst_device_generate_public_key(
    FstDevice *self, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error);
gboolean fst_device_write_object(FstDevice *self,
                                 guint slot,
                                 FstObjectKind kind,
                                 GBytes *data,
                                 GCancellable *cancellable,
                                 GError **error);
GBytes *fst_device_read_object(
    FstDevice *self, guint slot, FstObjectKind kind, GCancellable *cancellable, GError **error);
GBytes *fst_device_digest_object(FstDevice *self,
                                 guint slot,
                                 FstObjectKind kind,
                                 guint32 *length,
                                 GCancellable *cancellable,
                                 GError **error);
GBytes *fst_device_sign_challenge(FstDevice *self,
                                  guint slot,
                                  GBytes *nonce,
                                  GBytes **message,
                                  GCancellable *cancellable,
                                  GError **error);
gboolean fst_device_put_key(FstDevice *self,
                            guint slot,
                            FstKeyType key_type,
                            const FstSecret *key,
                            GCancellable *cancellable,
                            GError **error);
gboolean fst_device_lock(FstDevice *self, GCancellable *cancellable, GError **error);
gboolean
fst_device_activate_slot(FstDevice *self, guint slot, GCancellable *cancellable, GError **error);
FstTransport *fst_device_get_transport(FstDevice *self);
const FstDeviceInfo *fst_device_get_info(FstDevice *self);
void fst_device_set_info(FstDevice *self, const FstDeviceInfo *info);
const gchar *fst_device_get_dialect(FstDevice *self);
gboolean
fst_device_set_option(FstDevice *self, const gchar *key, const gchar *value, GError **error);
void fst_device_set_lane(FstDevice *self, const gchar *lane);
const gchar *fst_device_get_lane(FstDevice *self);

G_END_DECLS
