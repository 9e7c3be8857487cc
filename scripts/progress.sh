# progress.sh: progress lines for long setup steps; sourced by the scripts beside it.
# Lines go to stderr, one every PROGRESS_EVERY seconds (default 20), so a first build or a wheel
# build is never silent for minutes, on a terminal or in a CI log.

# wait_with_progress PID LOGFILE WHAT EXPECTED: waits for PID, printing the elapsed time, what is
# expected, and the last build step found in LOGFILE (ninja "[12/345]" or cmake "[ 45%]").
wait_with_progress() {
    local pid="$1" logfile="$2" what="$3" expected="$4" start now step
    start=$(date +%s)
    while kill -0 "$pid" 2>/dev/null; do
        for _ in $(seq "${PROGRESS_EVERY:-20}"); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        kill -0 "$pid" 2>/dev/null || break
        now=$(date +%s)
        step=$(grep -oE '\[ *[0-9]+(/[0-9]+|%)\]' "$logfile" 2>/dev/null | tail -n1 | tr -d '[] ' || true)
        printf '%s: %dm%02ds elapsed (%s)%s\n' "$what" $(((now - start) / 60)) $(((now - start) % 60)) \
            "$expected" "${step:+, step $step}" >&2
    done
    wait "$pid"
}

# cargo_build_with_progress [CARGO ARGS...]: cargo build, printing how many crates are compiled
# every PROGRESS_EVERY seconds (also while one crate takes minutes); errors show as cargo renders them.
cargo_build_with_progress() {
    cargo build --message-format=json-render-diagnostics "$@" | {
        local n=0 start=$SECONDS last=$SECONDS line
        while true; do
            if IFS= read -r -t 1 line; then
                case "$line" in *'"reason":"compiler-artifact"'*) n=$((n + 1)) ;; esac
            elif [ $? -le 128 ]; then
                break # end of input (a timeout returns more than 128)
            fi
            if [ $((SECONDS - last)) -ge "${PROGRESS_EVERY:-20}" ]; then
                printf 'build: %d crates built, %dm%02ds elapsed\n' "$n" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) >&2
                last=$SECONDS
            fi
        done
        printf 'build: %d crates built in %ds\n' "$n" $((SECONDS - start)) >&2
    }
}
