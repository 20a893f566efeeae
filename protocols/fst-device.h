#pragma once

#include <gio/gio.h>

#include "fst-secret.h"
#include "fst-transport.h"

G_BEGIN_DECLS

/**
 * FstKeyType:
 *
 * Device key types, as bit flags so that a device can list what it supports.
 * Values are part of the FSP wire protocol (protocols/fsp/README.md).
 */
typedef enum {
	FST_KEY_TYPE_NONE = 0,
	FST_KEY_TYPE_EC_P256 = 1 << 0,
	FST_KEY_TYPE_EC_P384 = 1 << 1,
	FST_KEY_TYPE_EC_P521 = 1 << 2,
	FST_KEY_TYPE_RSA_2048 = 1 << 3,
	FST_KEY_TYPE_RSA_3072 = 1 << 4,
	FST_KEY_TYPE_RSA_4096 = 1 << 5,
} FstKeyType;

/**
 * FstValidation:
 *
 * What the device's TLS stack can validate in a server chain: decides which
 * root CAs are worth burning. Bit flags, values are part of the FSP protocol.
 */
typedef enum {
	FST_VALIDATION_NONE = 0,
	FST_VALIDATION_RSA_PKCS1 = 1 << 0,
	FST_VALIDATION_ECDSA_P256 = 1 << 1,
	FST_VALIDATION_ECDSA_P384 = 1 << 2,
} FstValidation;

/**
 * FstCredFormat:
 *
 * How the device wants certificates stored.
 */
typedef enum {
	FST_CRED_FORMAT_PEM = 0,
	FST_CRED_FORMAT_DER = 1,
} FstCredFormat;

/**
 * FstObjectKind:
 * @FST_OBJECT_DEVICE_CERT: the device certificate (leaf)
 * @FST_OBJECT_CA_CHAIN: the issuing CA chain, leaf-side first
 * @FST_OBJECT_TRUST_ROOTS: the root CAs the device uses to validate servers
 *
 * What the station stores on a device, independent of how a dialect names its
 * slots (FSP object ids, nRF91 sec_tag types...).
 */
typedef enum {
	FST_OBJECT_DEVICE_CERT = 1,
	FST_OBJECT_CA_CHAIN = 2,
	FST_OBJECT_TRUST_ROOTS = 3,
	FST_OBJECT_LAST
} FstObjectKind;

const gchar *
fst_key_type_to_string(FstKeyType key_type);
FstKeyType
fst_key_type_from_string(const gchar *str);
gchar *
fst_key_types_to_string(guint key_types);
const gchar *
fst_object_kind_to_string(FstObjectKind kind);
gchar *
fst_validation_to_string(guint validation);

/**
 * FstDeviceInfo:
 *
 * What a device says about itself when identified. Every string was sent by the
 * device and is untrusted: the dialect bounds its length and keeps it to
 * printable ASCII before it gets here.
 */
typedef struct {
	gchar *uid;	     /* (owned): unique id, e.g. a serial number or MAC */
	gchar *model;	     /* (owned) */
	gchar *firmware;     /* (owned) */
	guint protocol_version;
	guint key_types;     /* FstKeyType flags the device can generate */
	guint validation;    /* FstValidation flags */
	gboolean can_csr;    /* builds a CSR for its own key */
	FstCredFormat format;
	/* capacity in bytes per FstObjectKind, 0 when the device has no such slot;
	 * with A/B credential slots the smaller of the two slots' */
	guint32 capacity[FST_OBJECT_LAST];
	guint32 max_payload; /* negotiated FSP payload size */
	gboolean can_sign;    /* proves possession of its key (sign_challenge) */
	gboolean can_put_key; /* takes a key made by the station (put_key) */
	gboolean can_lock;    /* credentials can be made read-only (lock) */
	gboolean locked;      /* credentials are read-only already */
	gboolean can_export_key; /* generates a key and exports its public key (generate_public_key) */
	/* credential slots: a key slot with its device certificate and CA chain.
	 * 1 for a device that does not say; 2 for a device with A/B slots, where
	 * a new certificate goes to the slot not in use and the device switches
	 * to it with activate_slot only once it is proven. Trust roots are
	 * shared by all slots (slot 0) */
	guint cred_slots;
	guint active_slot; /* the slot the device's TLS stack uses, < cred_slots */
} FstDeviceInfo;

/* the most credential slots any dialect may report */
#define FST_DEVICE_CRED_SLOTS_MAX 2

FstDeviceInfo *
fst_device_info_copy(const FstDeviceInfo *info);
void
fst_device_info_free(FstDeviceInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDeviceInfo, fst_device_info_free)

#define FST_TYPE_DEVICE (fst_device_get_type())
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
	gpointer padding[3];
};

gboolean
fst_device_identify(FstDevice *self, GCancellable *cancellable, GError **error);
GBytes *
fst_device_generate_csr(FstDevice *self,
			guint slot,
			FstKeyType key_type,
			GCancellable *cancellable,
			GError **error);
GBytes *
fst_device_generate_public_key(FstDevice *self,
			       guint slot,
			       FstKeyType key_type,
			       GCancellable *cancellable,
			       GError **error);
gboolean
fst_device_write_object(FstDevice *self,
			guint slot,
			FstObjectKind kind,
			GBytes *data,
			GCancellable *cancellable,
			GError **error);
GBytes *
fst_device_read_object(FstDevice *self,
		       guint slot,
		       FstObjectKind kind,
		       GCancellable *cancellable,
		       GError **error);
GBytes *
fst_device_sign_challenge(FstDevice *self,
			  guint slot,
			  GBytes *nonce,
			  GBytes **message,
			  GCancellable *cancellable,
			  GError **error);
gboolean
fst_device_put_key(FstDevice *self,
		   guint slot,
		   FstKeyType key_type,
		   const FstSecret *key,
		   GCancellable *cancellable,
		   GError **error);
gboolean
fst_device_lock(FstDevice *self, GCancellable *cancellable, GError **error);
gboolean
fst_device_activate_slot(FstDevice *self, guint slot, GCancellable *cancellable, GError **error);
FstTransport *
fst_device_get_transport(FstDevice *self);
const FstDeviceInfo *
fst_device_get_info(FstDevice *self);
void
fst_device_set_info(FstDevice *self, const FstDeviceInfo *info);
const gchar *
fst_device_get_dialect(FstDevice *self);

G_END_DECLS
