/*
 * gearhorn.h: the public C API of libgearhorn.
 *
 * Link with `pkg-config --libs gearhorn`. Every exported symbol starts with
 * gearhorn_; nothing else of the library is visible.
 */
#ifndef GEARHORN_H
#define GEARHORN_H

#ifdef __cplusplus
extern "C" {
#endif

#define GEARHORN_VERSION_MAJOR 0
#define GEARHORN_VERSION_MINOR 1
#define GEARHORN_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH". Static, never NULL. */
const char *gearhorn_version(void);

/* The eMQP protocol version string the library speaks ("eMQP/1.0"). Static. */
const char *gearhorn_protocol_version(void);

#ifdef __cplusplus
}
#endif

#endif
