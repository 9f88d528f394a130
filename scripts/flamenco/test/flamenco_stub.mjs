// A small stand-in for what Flamenco Manager gives a job compiler script, enough to
// load scripts/flamenco/*.js in node and run their compileJob().
//
// Flamenco runs a script in its own JavaScript VM (strict mode) with these globals:
// `author` (Task, Command), `path` (basename, dirname, join, stem), `print`, `alert`,
// `frameChunker`, `frameCount`, `formatTimestampLocal`, `shellSplit`, `process`.
// Here the script runs in a fresh `vm` context holding only the ones our scripts use,
// so reaching for anything else (require, console, ...) fails as it would on the farm.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import nodePath from "node:path";
import vm from "node:vm";

const posix = nodePath.posix;

// author.Task(name, type) and author.Command(name, parameters, totalStepCount):
// the same fields and methods (lower-cased, as the Manager exposes them) as Flamenco's.
function Task(name, type) {
    name = String(name ?? "").trim();
    type = String(type ?? "").trim();
    if (!name) throw new Error("author.Task(name, type): name is required");
    if (!type) throw new Error("author.Task(name, type): type is required");
    return {
        uuid: randomUUID(),
        name,
        type,
        priority: 50,
        commands: [],
        dependencies: [],
        addCommand(command) { this.commands.push(command); },
        addDependency(task) { this.dependencies.push(task); },
    };
}

function Command(name, parameters, totalStepCount = 0) {
    return { name, parameters, totalStepCount };
}

const flamencoPath = {
    basename: (p) => posix.basename(p),
    dirname: (p) => posix.dirname(p),
    join: (...parts) => posix.join(...parts),
    stem: (p) => posix.basename(p, posix.extname(p)),
};

/** Load a job compiler script; returns { JOB_TYPE, compileJob, log }. */
export function loadCompiler(scriptPath) {
    const log = [];
    const context = vm.createContext({
        author: { Task, Command },
        path: flamencoPath,
        print: (...args) => log.push(["print", ...args]),
        alert: (...args) => log.push(["alert", ...args]),
    });
    // Same line numbers as the file; strict like the Manager's compile step.
    const source = '"use strict"; ' + readFileSync(scriptPath, "utf8");
    vm.runInContext(source, context, { filename: scriptPath });
    // Top-level `const` lives in the context's global scope, not on its global object.
    const JOB_TYPE = vm.runInContext("JOB_TYPE", context);
    const compileJob = vm.runInContext("compileJob", context);
    return { JOB_TYPE, compileJob, log };
}

/** A job as compileJob(job) sees it: settings to read, addTask() to fill job.tasks. */
export function makeJob(settings, name = "test job") {
    return {
        name,
        created: new Date(),
        settings: { ...settings },
        tasks: [],
        addTask(task) { this.tasks.push(task); },
    };
}

/** Compile a job of the given settings; returns the job with its tasks. */
export function compile(compiler, settings) {
    const job = makeJob(settings);
    compiler.compileJob(job);
    return job;
}
