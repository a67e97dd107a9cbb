//go:build unix

package process

import (
	"os"
	"sort"
	"strconv"
)

const runtimeAPIVar = "AWS_LAMBDA_RUNTIME_API"

// inherited are the variables a process gets from sluice's environment;
// the rest of it (tokens, database URLs) stays sluice's.
var inherited = []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR", "USER"}

// environment is a process's environment, but for the Runtime API's
// address (per instance and start): what Lambda runtime clients read
// (aws-lambda-go's lambdacontext, awslambdaric), then the operator's env.
func environment(getenv func(string) string, dir, handler string, memory int, extra map[string]string) []string {
	if getenv == nil {
		getenv = os.Getenv
	}
	vars := map[string]string{
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(memory),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"LAMBDA_TASK_ROOT":                dir,
		"PYTHONUNBUFFERED":                "1",
	}
	for _, k := range inherited {
		if v := getenv(k); v != "" {
			vars[k] = v
		}
	}
	if handler != "" {
		vars["_HANDLER"] = handler
	}
	for k, v := range extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// instanceEnv adds what differs per function and instance.
func instanceEnv(base []string, name string, instance int, api string) []string {
	env := append([]string(nil), base...)
	return append(env,
		"AWS_LAMBDA_FUNCTION_NAME="+name,
		"AWS_LAMBDA_LOG_GROUP_NAME=/sluice/functions/"+name,
		"AWS_LAMBDA_LOG_STREAM_NAME=instance-"+strconv.Itoa(instance),
		"SLUICE_FUNCTION="+name,
		"SLUICE_INSTANCE="+strconv.Itoa(instance),
		runtimeAPIVar+"="+api,
	)
}
