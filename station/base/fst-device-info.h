/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

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

const gchar *fst_key_type_to_string(FstKeyType key_type);
FstKeyType fst_key_type_from_string(const gchar *str);
gchar *fst_key_types_to_string(guint key_types);
const gchar *fst_object_kind_to_string(FstObjectKind kind);
gchar *fst_validation_to_string(guint validation);

/**
 * FstDeviceInfo:
 *
 * What a device says about itself when identified. Every string was sent by the
 * device and is untrusted: the dialect bounds its length and keeps it to
 * printable ASCII before it gets here.
 */
typedef struct {
	gchar *uid;      /* (owned): unique id, e.g. a serial number or MAC */
	gchar *model;    /* (owned) */
	gchar *firmware; /* (owned) */
	guint protocol_version;
	guint key_types;  /* FstKeyType flags the device can generate */
	guint validation; /* FstValidation flags */
	gboolean can_csr; /* builds a CSR for its own key */
	FstCredFormat format;
	/* capacity in bytes per FstObjectKind, 0 when the device has no such slot;
	 * with A/B credential slots the smaller of the two slots' */
	guint32 capacity[FST_OBJECT_LAST];
	guint32 max_payload;  /* negotiated FSP payload size */
	gboolean can_sign;    /* proves possession of its key (sign_challenge) */
	gboolean can_put_key; /* takes a key made by the station (put_key) */
	gboolean can_lock;    /* credentials can be made read-only (lock) */
	gboolean locked;      /* credentials are read-only already */
	gboolean
	    can_export_key; /* generates a key and exports its public key (generate_public_key) */
	/* credential slots: a key slot with its device certificate and CA chain.
	 * 1 for a device that does not say; 2 for a device with A/B slots, where
	 * a new certificate goes to the slot not in use and the device switches
	 * to it with activate_slot only once it is proven. Trust roots are
	 * shared by all slots (slot 0) */
	guint cred_slots;
	guint active_slot; /* the slot the device's TLS stack uses, < cred_slots */
	/* hashes a stored object as it reads it from its storage (digest_object),
	 * so a write is verified without reading it back over the wire */
	gboolean can_digest;
} FstDeviceInfo;

/* the most credential slots any dialect may report */
#define FST_DEVICE_CRED_SLOTS_MAX 2

FstDeviceInfo *fst_device_info_copy(const FstDeviceInfo *info);
void fst_device_info_free(FstDeviceInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDeviceInfo, fst_device_info_free)

G_END_DECLS
