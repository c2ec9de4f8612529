#!/bin/sh
# A stand-in service for the example fleet.
[ "$1" = "--check" ] && exit 0
echo "api ready"
exec sleep infinity
