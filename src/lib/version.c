/*
 * version.c: the version calls of the public API.
 */
#include "config.h"

#include "gearhorn.h"
#include "proto.h"

const char *
gearhorn_version(void)
{
	return PACKAGE_VERSION;
}

const char *
gearhorn_protocol_version(void)
{
	return PROTO_VERSION;
}
