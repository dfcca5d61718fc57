#!/usr/bin/env bash
# pytools.sh finds or installs the Python tools the Makefile runs - moto_server
# (local AWS) and cfn-lint (template checks) - at the versions pinned in
# infra/tools/requirements.txt.
#
#   pytools.sh ensure [--endpoint-ok] TOOL...  make TOOLs runnable, or say exactly how
#   pytools.sh path                            the PATH to run them with
#   pytools.sh install                         (re)build .venv/ from the requirements
#
# The order of preference: a complete .venv/ in the project (built here or by
# hand with the commands in the failure message); else the tools on PATH, when
# their versions are the pinned ones, without touching the network (another
# version is used too, with one line naming the version the suite expects);
# else .venv/ is built with `python3 -m venv` and pip - never a system-wide
# pip install, which Debian and Ubuntu refuse (PEP 668). A build that fails
# leaves no .venv/ that a later run could take for a good one: .venv/ counts
# only when it holds the pinned versions and no unfinished-build marker.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
req_rel=infra/tools/requirements.txt
req=$root/$req_rel
venv=$root/.venv
building=$venv/.rekey-building # present from the start of a build until it succeeds

# pinned NAME prints the version requirements.txt pins NAME to.
pinned() {
	sed -n -E "s/^$1(\[[a-z,]+\])?==([^ ;#]+).*/\2/p" "$req" | head -n 1
}
moto_pin=$(pinned moto)
cfn_pin=$(pinned cfn-lint)

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }

# dist TOOL prints the distribution that provides TOOL and its pinned version.
dist() {
	case $1 in
	moto_server) say "moto $moto_pin" ;;
	cfn-lint) say "cfn-lint $cfn_pin" ;;
	*)
		warn "pytools.sh: unknown tool $1"
		exit 2
		;;
	esac
}

# venv_ok says whether .venv/ is complete: no unfinished build, both tools
# there, at the pinned versions.
venv_ok() {
	[[ -x $venv/bin/python && -x $venv/bin/moto_server && -x $venv/bin/cfn-lint && ! -e $building ]] || return 1
	local got
	got=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"), m.version("cfn-lint"))' 2>/dev/null) || return 1
	[[ $got == "$moto_pin $cfn_pin" ]]
}

# path_without_venv is PATH without the project's .venv/bin, so that the
# tools found on PATH are the user's own.
path_without_venv() {
	local out="" dir
	local IFS=:
	for dir in $PATH; do
		[[ $dir == "$venv/bin" ]] && continue
		out=${out:+$out:}$dir
	done
	say "$out"
}

# interpreter SCRIPT prints the Python that runs the console script SCRIPT
# (its shebang; pyenv's shims are resolved through pyenv), python3 otherwise.
interpreter() {
	local script=$1 line
	if [[ $script == */shims/* ]] && command -v pyenv >/dev/null; then
		script=$(pyenv which "$(basename "$script")" 2>/dev/null) || script=$1
	fi
	IFS= read -r line <"$script" 2>/dev/null || line=""
	case $line in
	'#!'*python*)
		line=${line#'#!'}
		say "${line%%[[:space:]]}"
		;;
	*) say python3 ;;
	esac
}

# version_on_path TOOL DIST prints the version of DIST, the distribution that
# provides TOOL on PATH, asking the interpreter that runs TOOL (moto_server
# has no --version; cfn-lint's loads every rule first, ~3 s).
version_on_path() {
	local py
	py=$(interpreter "$(command -v "$1")")
	# $py may be "/usr/bin/env python3": word splitting is wanted.
	# shellcheck disable=SC2086
	$py -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$2" 2>/dev/null
}

# fail_install REASON prints why the tools could not be installed and the
# commands that install them on Debian and Ubuntu, and exits.
fail_install() {
	warn ""
	warn "Could not install moto_server and cfn-lint: $1."
	warn "On Debian or Ubuntu (Python 3.11 or newer), install them into the project's own"
	warn ".venv/ - a system-wide 'pip install' is refused there (externally managed environment):"
	warn ""
	warn "    sudo apt-get install -y python3-venv"
	warn "    python3 -m venv .venv"
	warn "    .venv/bin/pip install -r $req_rel"
	warn ""
	warn "then run make again: it uses .venv/ by itself (moto $moto_pin, cfn-lint $cfn_pin)."
	warn "For 'make dev' against an AWS emulator that runs elsewhere, set AWS_ENDPOINT_URL instead,"
	warn "e.g. AWS_ENDPOINT_URL=http://127.0.0.1:5000 make dev"
	exit 1
}

# python_for_venv prints a python3 (outside .venv/) new enough for the pins.
python_for_venv() {
	local py
	py=$(PATH=$(path_without_venv) command -v "${PYTHON:-python3}") || fail_install "no python3 on PATH (sudo apt-get install -y python3 python3-venv)"
	"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
		fail_install "$py is Python $("$py" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?'), the pinned tools need 3.11 or newer"
	say "$py"
}

# make_venv PYTHON creates .venv/ with pip, installing Debian's python3-venv
# when that is what is missing and we may (root, apt, the system python3).
make_venv() {
	local py=$1 out
	if out=$("$py" -m venv "$venv" 2>&1); then
		return 0
	fi
	if [[ $py == /usr/bin/python3* ]] && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
		say "python3-venv is missing: installing Debian's python3-venv (apt-get)"
		if apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; then
			out=$("$py" -m venv "$venv" 2>&1) && return 0
		fi
	fi
	warn "$out"
	fail_install "'$py -m venv .venv' failed (on Debian and Ubuntu it needs the python3-venv package)"
}

# install (re)builds .venv/ from requirements.txt.
install() {
	local py created=""
	py=$(python_for_venv)
	if [[ -e $venv && ! -f $venv/pyvenv.cfg ]]; then
		fail_install "$venv exists but is not a Python virtual environment; move it away"
	fi
	# Ours to remove on failure: a new .venv/, or one a killed build left.
	[[ -e $venv && ! -e $building ]] || created=yes
	say "Preparing the Python tools: building .venv/ with moto $moto_pin and cfn-lint $cfn_pin ($req_rel; python3 -m venv, pip)..."
	mkdir -p "$venv"
	: >"$building"
	# A build that stops half-way - an error, Ctrl-C - removes the .venv/ it
	# created; one it was asked to complete keeps the marker, so it never counts.
	trap 'if [[ -n $created ]]; then rm -rf "$venv"; fi' EXIT
	trap 'exit 130' INT TERM
	make_venv "$py"
	if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"; then
		fail_install "pip could not install $req_rel (no network, or no route to the Python package index?)"
	fi
	rm -f "$building"
	venv_ok || fail_install ".venv/ was built but does not run moto $moto_pin and cfn-lint $cfn_pin"
	trap - EXIT INT TERM
	say "Python tools ready in .venv/ (moto $moto_pin, cfn-lint $cfn_pin)."
}

# ensure makes each TOOL runnable: .venv/, else PATH, else a new .venv/.
ensure() {
	local endpoint_ok="" tool missing=() have want name
	if [[ ${1:-} == --endpoint-ok ]]; then
		endpoint_ok=yes
		shift
	fi
	if venv_ok; then
		say "Using moto $moto_pin and cfn-lint $cfn_pin from .venv/"
		return 0
	fi
	for tool in "$@"; do
		if [[ $tool == moto_server && -n $endpoint_ok && -n ${AWS_ENDPOINT_URL:-} ]]; then
			say "Using the AWS emulator at AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL (no local moto_server)"
			continue
		fi
		if ! PATH=$(path_without_venv) command -v "$tool" >/dev/null; then
			missing+=("$tool")
			continue
		fi
		read -r name want <<<"$(dist "$tool")"
		have=$(PATH=$(path_without_venv) version_on_path "$tool" "$name") || have=""
		if [[ $have == "$want" ]]; then
			say "Using $name $have ($tool on PATH)"
		else
			warn "note: $tool on PATH is $name ${have:-of unknown version}; the suite is tested with $name $want ($req_rel) - 'make tools' installs that into .venv/"
		fi
	done
	if ((${#missing[@]})); then
		say "${missing[*]} not found: the pinned tools go into the project's .venv/."
		install
	fi
}

case ${1:-} in
ensure)
	shift
	ensure "$@"
	;;
path)
	if venv_ok; then say "$venv/bin:$(path_without_venv)"; else path_without_venv; fi
	;;
install) install ;;
*)
	warn "usage: $0 ensure [--endpoint-ok] TOOL... | path | install"
	exit 2
	;;
esac
