#!/usr/bin/env bash
# Prints the first K8S_PORT_BASE from 21000 up (steps of 20) whose 13 loopback ports (a
# cluster with a real node, lib.sh) are all free: for a throwaway cluster beside others.
for base in $(seq 21000 20 31000); do
  busy=0
  for i in $(seq 0 12); do (echo >"/dev/tcp/127.0.0.1/$((base + i))") 2>/dev/null && { busy=1; break; }; done
  [ "$busy" = 0 ] && { echo "$base"; exit 0; }
done
echo "free-port-base: no 13 free loopback ports between 21000 and 31012" >&2
exit 1
