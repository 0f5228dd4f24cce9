#!/bin/sh
# Stands in for wast2json in a pluginop-spec self-test: writes a truncated JSON file.
# Called as: fake-wast2json.sh FILE.wast -o OUT.json
printf '{"source_filename": "x.wast", "commands": [{"type": "module", "li' > "$3"
