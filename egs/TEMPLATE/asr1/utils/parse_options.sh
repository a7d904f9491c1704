# Parse `--name value` options into existing shell variables (source it after the defaults,
# with their names in ${_option_names}). `--name value` sets ${name} (dashes in name become
# underscores); an unknown option or a missing value is an error that lists the options.
# --help prints the script's leading comment (usage and stages) and every option with its
# current value.
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2
            echo "Options (current value):" >&2
            for _name in ${_option_names}; do echo "  --${_name} '${!_name}'" >&2; done
            exit 0 ;;
        --*)
            _name="${1#--}"; _name="${_name//-/_}"
            # A loop, not a pipe into grep -q: under pipefail, grep exiting at the first
            # match can kill the writer with SIGPIPE: a known option refused on a busy machine.
            _known=false
            for _option in ${_option_names}; do [ "${_option}" = "${_name}" ] && _known=true; done
            if [ "${_known}" = false ]; then
                echo "$0: unknown option $1; options: $(printf -- '--%s ' ${_option_names})" >&2
                exit 1
            fi
            if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
            printf -v "${_name}" '%s' "$2"
            shift 2 ;;
        *) echo "$0: unexpected argument '$1' (options are --name value)" >&2; exit 1 ;;
    esac
done
unset _name _option _known
