/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDevice"

#include "fst-device.h"

#include "fst-error.h"

typedef struct {
	FstTransport *transport; /* (owned) */
	FstDeviceInfo *info;     /* (owned) (nullable): set by identify */
	gchar *dialect;          /* (owned) */
} FstDevicePrivate;

G_DEFINE_TYPE_WITH_PRIVATE(FstDevice, fst_device, G_TYPE_OBJECT)
#define GET_PRIVATE(o) (fst_device_get_instance_private(o))

enum { PROP_0, PROP_TRANSPORT, PROP_DIALECT, PROP_LAST };

/* the checks every slot-addressed call shares: the device has @slot (it is
 * identified first when it was not, so that cred_slots is known) and trust
 * roots, shared by all slots, are addressed as slot 0 */
static gboolean
fst_device_check_slot(
    FstDevice *self, guint slot, FstObjectKind kind, GCancellable *cancellable, GError **error)
{
	FstDevicePrivate *priv = GET_PRIVATE(self);
	const gchar *port = priv->transport != NULL ? fst_transport_get_name(priv->transport) : "?";

	if (kind == FST_OBJECT_TRUST_ROOTS && slot != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "%s: trust roots are shared by all credential slots: address them "
		            "as slot 0, not %u",
		            port,
		            slot);
		return FALSE;
	}
	if (slot == 0)
		return TRUE;
	if (priv->info == NULL && !fst_device_identify(self, cancellable, error))
		return FALSE;
	if (slot >= priv->info->cred_slots) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: device %s has %u credential slot%s, no slot %u; choose a "
		            "profile without A/B slots for this device model",
		            port,
		            priv->info->uid,
		            priv->info->cred_slots,
		            priv->info->cred_slots == 1 ? "" : "s",
		            slot);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_device_identify:
 * @self: an #FstDevice
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Asks the device who it is and what it can do; afterwards
 * fst_device_get_info() returns the answer.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_device_identify(FstDevice *self, GCancellable *cancellable, GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), FALSE);
	if (klass->identify == NULL) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_NOT_SUPPORTED, "identify not supported");
		return FALSE;
	}
	return klass->identify(self, cancellable, error);
}

/**
 * fst_device_generate_csr:
 * @self: an #FstDevice
 * @slot: the credential slot whose key is replaced (0 without A/B slots)
 * @key_type: the key type to generate
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * The new key is staged: it replaces the key of @slot only when the device
 * certificate of @slot is committed (FSP), so a failed run leaves the slot's
 * key as it was.
 *
 * Returns: (transfer full): the DER-encoded CSR, untrusted until verified;
 * %FST_ERROR_NOT_SUPPORTED for a @slot the device does not have
 */
GBytes *
fst_device_generate_csr(
    FstDevice *self, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	if (klass->generate_csr == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_NOT_SUPPORTED,
		                    "the device dialect cannot generate a CSR");
		return NULL;
	}
	if (!fst_device_check_slot(self, slot, FST_OBJECT_DEVICE_CERT, cancellable, error))
		return NULL;
	return klass->generate_csr(self, slot, key_type, cancellable, error);
}

/**
 * fst_device_generate_public_key:
 * @self: an #FstDevice
 * @slot: the credential slot whose key is replaced (0 without A/B slots)
 * @key_type: the key type to generate
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Has the device generate a key and export its public key, for devices that
 * cannot build a CSR. Nothing proves possession yet: the caller must check a
 * fst_device_sign_challenge() signature against it before trusting it.
 *
 * Returns: (transfer full): the DER SubjectPublicKeyInfo, untrusted;
 * %FST_ERROR_NOT_SUPPORTED for a @slot the device does not have
 */
GBytes *
fst_device_generate_public_key(
    FstDevice *self, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	if (klass->generate_public_key == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_NOT_SUPPORTED,
		                    "the device dialect cannot export a public key");
		return NULL;
	}
	if (!fst_device_check_slot(self, slot, FST_OBJECT_DEVICE_CERT, cancellable, error))
		return NULL;
	return klass->generate_public_key(self, slot, key_type, cancellable, error);
}

/**
 * fst_device_write_object:
 * @self: an #FstDevice
 * @slot: the credential slot (0 without A/B slots; always 0 for trust roots)
 * @kind: what @data is
 * @data: the bytes to store, already in the device's format
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Returns: %TRUE once the device has committed @data;
 * %FST_ERROR_NOT_SUPPORTED for a @slot the device does not have
 */
gboolean
fst_device_write_object(FstDevice *self,
                        guint slot,
                        FstObjectKind kind,
                        GBytes *data,
                        GCancellable *cancellable,
                        GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), FALSE);
	if (klass->write_object == NULL) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_NOT_SUPPORTED, "writing not supported");
		return FALSE;
	}
	if (!fst_device_check_slot(self, slot, kind, cancellable, error))
		return FALSE;
	return klass->write_object(self, slot, kind, data, cancellable, error);
}

/**
 * fst_device_read_object:
 * @self: an #FstDevice
 * @slot: the credential slot (0 without A/B slots; always 0 for trust roots)
 * @kind: the object to read
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the stored bytes, or %NULL;
 * %FST_ERROR_NOT_SUPPORTED for a @slot the device does not have
 */
GBytes *
fst_device_read_object(
    FstDevice *self, guint slot, FstObjectKind kind, GCancellable *cancellable, GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	if (klass->read_object == NULL) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_NOT_SUPPORTED, "reading not supported");
		return NULL;
	}
	if (!fst_device_check_slot(self, slot, kind, cancellable, error))
		return NULL;
	return klass->read_object(self, slot, kind, cancellable, error);
}

/**
 * fst_device_digest_object:
 * @self: an #FstDevice
 * @slot: the credential slot (0 without A/B slots; trust roots are slot 0)
 * @kind: the object
 * @length: (out) (optional): the length of the object the device holds
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Asks the device to re-read what @kind of @slot holds from its storage
 * and hash it: the verification of a write without the object crossing the
 * wire again. The hash is what the device reports, untrusted: the caller
 * compares it with the SHA-256 of what it wrote.
 *
 * Returns: (transfer full): the 32-byte SHA-256; %NULL with
 * %FST_ERROR_NOT_SUPPORTED when the device cannot (#FstDeviceInfo.can_digest),
 * %FST_ERROR_NOT_FOUND when it holds no such object
 */
GBytes *
fst_device_digest_object(FstDevice *self,
                         guint slot,
                         FstObjectKind kind,
                         guint32 *length,
                         GCancellable *cancellable,
                         GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	guint32 length_tmp = 0;
	GBytes *digest;

	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	if (klass->digest_object == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "the %s dialect cannot have the device hash what it stores; verify by "
		            "reading back (verify=readback)",
		            fst_device_get_dialect(self));
		return NULL;
	}
	if (!fst_device_check_slot(self, slot, kind, cancellable, error))
		return NULL;
	digest = klass->digest_object(self, slot, kind, &length_tmp, cancellable, error);
	if (digest != NULL && length != NULL)
		*length = length_tmp;
	return digest;
}

/**
 * fst_device_sign_challenge:
 * @self: an #FstDevice
 * @slot: the credential slot whose key signs (0 without A/B slots)
 * @nonce: the station's random challenge (32 bytes for FSP)
 * @message: (out) (transfer full): the exact bytes the device signed
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Asks the device to prove that it holds the private key of @slot: its
 * staged key (generated or injected, not yet promoted by a commit of the
 * slot's device certificate) if it has one, else its key.
 * The caller verifies the signature over @message with the public key of the
 * certificate it issued, and checks that @message ends with @nonce.
 *
 * Returns: (transfer full): the signature, untrusted until verified; %NULL
 * with %FST_ERROR_NOT_SUPPORTED when the device cannot sign
 */
GBytes *
fst_device_sign_challenge(FstDevice *self,
                          guint slot,
                          GBytes *nonce,
                          GBytes **message,
                          GCancellable *cancellable,
                          GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	g_return_val_if_fail(nonce != NULL && message != NULL, NULL);
	if (klass->sign_challenge == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_NOT_SUPPORTED,
		                    "the device dialect cannot prove possession of a key");
		return NULL;
	}
	if (!fst_device_check_slot(self, slot, FST_OBJECT_DEVICE_CERT, cancellable, error))
		return NULL;
	return klass->sign_challenge(self, slot, nonce, message, cancellable, error);
}

/**
 * fst_device_put_key:
 * @self: an #FstDevice
 * @slot: the credential slot whose key is replaced (0 without A/B slots)
 * @key_type: the type of @key
 * @key: the private key, PKCS#8 DER
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Key-injection mode: stores a key the station made in the device key slot.
 * The key is never logged; the dialect wipes its own copies.
 *
 * Returns: %TRUE when the device installed the key
 */
gboolean
fst_device_put_key(FstDevice *self,
                   guint slot,
                   FstKeyType key_type,
                   const FstSecret *key,
                   GCancellable *cancellable,
                   GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	if (klass->put_key == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_NOT_SUPPORTED,
		                    "the device dialect cannot take a station-made key");
		return FALSE;
	}
	if (!fst_device_check_slot(self, slot, FST_OBJECT_DEVICE_CERT, cancellable, error))
		return FALSE;
	return klass->put_key(self, slot, key_type, key, cancellable, error);
}

/**
 * fst_device_lock:
 * @self: an #FstDevice
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Makes the device credentials read-only. Irreversible.
 *
 * Returns: %TRUE when the device is locked (also when it was already)
 */
gboolean
fst_device_lock(FstDevice *self, GCancellable *cancellable, GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), FALSE);
	if (klass->lock == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_NOT_SUPPORTED,
		                    "the device dialect cannot lock credentials");
		return FALSE;
	}
	return klass->lock(self, cancellable, error);
}

/**
 * fst_device_activate_slot:
 * @self: an #FstDevice
 * @slot: the credential slot the device's TLS stack uses from now on
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Switches the device to credential slot @slot, persistently. Call it only
 * after the objects written to @slot were read back and the device proved
 * possession of the slot's key: until then the device keeps using its old,
 * working slot. Activating the slot already active is allowed.
 *
 * Returns: %TRUE when the device uses @slot; %FST_ERROR_NOT_FOUND when the
 * slot has no key or no certificate, %FST_ERROR_NOT_SUPPORTED for a @slot
 * the device does not have, %FST_ERROR_PERMISSION_DENIED when it is locked
 */
gboolean
fst_device_activate_slot(FstDevice *self, guint slot, GCancellable *cancellable, GError **error)
{
	FstDeviceClass *klass = FST_DEVICE_GET_CLASS(self);
	FstDevicePrivate *priv;
	g_return_val_if_fail(FST_IS_DEVICE(self), FALSE);
	if (klass->activate_slot == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_NOT_SUPPORTED,
		                    "the device dialect cannot switch credential slots");
		return FALSE;
	}
	if (!fst_device_check_slot(self, slot, FST_OBJECT_DEVICE_CERT, cancellable, error))
		return FALSE;
	if (!klass->activate_slot(self, slot, cancellable, error))
		return FALSE;
	/* in place: callers may hold fst_device_get_info() */
	priv = GET_PRIVATE(self);
	priv->info->active_slot = slot;
	return TRUE;
}

/**
 * fst_device_get_transport:
 * @self: an #FstDevice
 *
 * Returns: (transfer none): the transport the device is on
 */
FstTransport *
fst_device_get_transport(FstDevice *self)
{
	FstDevicePrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	return priv->transport;
}

/**
 * fst_device_get_info:
 * @self: an #FstDevice
 *
 * Returns: (transfer none) (nullable): what identify found, or %NULL before
 */
const FstDeviceInfo *
fst_device_get_info(FstDevice *self)
{
	FstDevicePrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	return priv->info;
}

/**
 * fst_device_set_info:
 * @self: an #FstDevice
 * @info: what the device said, copied
 *
 * For dialects, from their identify().
 */
void
fst_device_set_info(FstDevice *self, const FstDeviceInfo *info)
{
	FstDevicePrivate *priv = GET_PRIVATE(self);
	g_return_if_fail(FST_IS_DEVICE(self));
	fst_device_info_free(priv->info);
	priv->info = fst_device_info_copy(info);
	/* a dialect that knows no slots has one */
	if (priv->info->cred_slots == 0)
		priv->info->cred_slots = 1;
	if (priv->info->active_slot >= priv->info->cred_slots)
		priv->info->active_slot = 0;
}

/**
 * fst_device_get_dialect:
 * @self: an #FstDevice
 *
 * Returns: (transfer none): the dialect name, e.g. "fsp"
 */
const gchar *
fst_device_get_dialect(FstDevice *self)
{
	FstDevicePrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	return priv->dialect;
}

static void
fst_device_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	FstDevicePrivate *priv = GET_PRIVATE(FST_DEVICE(object));
	switch (prop_id) {
	case PROP_TRANSPORT:
		g_value_set_object(value, priv->transport);
		break;
	case PROP_DIALECT:
		g_value_set_string(value, priv->dialect);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
fst_device_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	FstDevicePrivate *priv = GET_PRIVATE(FST_DEVICE(object));
	switch (prop_id) {
	case PROP_TRANSPORT:
		g_set_object(&priv->transport, g_value_get_object(value));
		break;
	case PROP_DIALECT:
		g_free(priv->dialect);
		priv->dialect = g_value_dup_string(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
fst_device_finalize(GObject *object)
{
	FstDevicePrivate *priv = GET_PRIVATE(FST_DEVICE(object));
	g_clear_object(&priv->transport);
	fst_device_info_free(priv->info);
	g_free(priv->dialect);
	G_OBJECT_CLASS(fst_device_parent_class)->finalize(object);
}

static void
fst_device_init(FstDevice *self)
{
}

/**
 * fst_device_set_option:
 * @self: an #FstDevice
 * @key: an option of the dialect, as a profile spells it (e.g. `sec-tag`)
 * @value: its value, as text
 * @error: (nullable): return location
 *
 * Passes a setting from the profile to the dialect before the device is
 * used (an nRF91 modem's sec_tag, say).
 *
 * Returns: %TRUE when the dialect took it; %FALSE with
 * %FST_ERROR_NOT_SUPPORTED when the dialect has no such option, or
 * %FST_ERROR_CONFIG when the value is wrong for it
 */
gboolean
fst_device_set_option(FstDevice *self, const gchar *key, const gchar *value, GError **error)
{
	FstDeviceClass *klass;

	g_return_val_if_fail(FST_IS_DEVICE(self), FALSE);
	g_return_val_if_fail(key != NULL && value != NULL, FALSE);
	klass = FST_DEVICE_GET_CLASS(self);
	if (klass->set_option == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "dialect %s takes no option %s",
		            fst_device_get_dialect(self),
		            key);
		return FALSE;
	}
	return klass->set_option(self, key, value, error);
}

static void
fst_device_class_init(FstDeviceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->get_property = fst_device_get_property;
	object_class->set_property = fst_device_set_property;
	object_class->finalize = fst_device_finalize;

	g_object_class_install_property(object_class,
	                                PROP_TRANSPORT,
	                                g_param_spec_object("transport",
	                                                    NULL,
	                                                    NULL,
	                                                    FST_TYPE_TRANSPORT,
	                                                    G_PARAM_READWRITE |
	                                                        G_PARAM_CONSTRUCT_ONLY |
	                                                        G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(object_class,
	                                PROP_DIALECT,
	                                g_param_spec_string("dialect",
	                                                    NULL,
	                                                    NULL,
	                                                    NULL,
	                                                    G_PARAM_READWRITE |
	                                                        G_PARAM_CONSTRUCT_ONLY |
	                                                        G_PARAM_STATIC_STRINGS));
}

/**
 * fst_device_set_lane:
 * @self: an #FstDevice
 * @lane: (nullable): the jig lane (socket) the device sits in
 *
 * The station names the device's lane in results and events.
 */
void
fst_device_set_lane(FstDevice *self, const gchar *lane)
{
	g_return_if_fail(FST_IS_DEVICE(self));
	g_object_set_data_full(G_OBJECT(self), "fst-lane", g_strdup(lane), g_free);
}

/**
 * fst_device_get_lane:
 * @self: an #FstDevice
 *
 * Returns: (transfer none) (nullable): the jig lane, if the station knows it
 */
const gchar *
fst_device_get_lane(FstDevice *self)
{
	g_return_val_if_fail(FST_IS_DEVICE(self), NULL);
	return g_object_get_data(G_OBJECT(self), "fst-lane");
}
