# bash completion for fleetstation: the commands from `fleetstation help`, and
# each command's options from its own --help, so that completion is always
# what the installed program accepts.

_fleetstation_commands()
{
	fleetstation help 2>/dev/null | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'
}

_fleetstation()
{
	local cur prev words cword
	_init_completion -s || return

	if [ "$cword" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$(_fleetstation_commands) --version" -- "$cur"))
		return
	fi

	local command=${words[1]}
	case $prev in
	--workspace | -w | --out | --output | --database | --passphrase-file | --pin-file)
		_filedir
		return
		;;
	--port)
		COMPREPLY=($(compgen -f -- "${cur:-/dev/tty}"))
		return
		;;
	--profile | -p)
		local dir=${FST_TEMPLATES_DIR:-/usr/share/fleetstation/templates}/profiles
		COMPREPLY=($(compgen -W "$(ls "$dir" 2>/dev/null | sed -n 's/\.profile$//p')" -- "$cur"))
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		local opts
		opts=$(fleetstation "$command" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	case $command in
	batch | profile)
		_filedir
		;;
	help)
		COMPREPLY=($(compgen -W "$(_fleetstation_commands)" -- "$cur"))
		;;
	esac
} && complete -F _fleetstation fleetstation
