// Tests of the Brushwork Stylize job compiler: node --test scripts/flamenco/test/*.test.mjs
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { compile, loadCompiler } from "./flamenco_stub.mjs";

const SCRIPT = fileURLToPath(new URL("../brushwork-stylize.js", import.meta.url));
const compiler = loadCompiler(SCRIPT);

const SETTINGS = {
    blendfile: "/farm/jobs/shot010/shot010.flamenco.blend",
    frames: "1-48",
    chunk_size: 12,
    style: "/farm/styles/starry night.jpg",
    method: "ccpl",
    coherence: 0.6,
    out_dir: "/farm/renders/shot010",
    brushwork_dir: "/farm/brushwork",
    fps: 24,
};

const jobWith = (overrides = {}) => compile(compiler, { ...SETTINGS, ...overrides });
const chunkTasks = (job) => job.tasks.filter((t) => t.name.startsWith("stylize-"));
const argsOf = (task) => task.commands[0].parameters.args;
const optionOf = (task, option) => {
    const args = argsOf(task);
    const i = args.indexOf(option);
    return i < 0 ? undefined : args[i + 1];
};

test("JOB_TYPE has the settings the add-on shows", () => {
    const { JOB_TYPE } = compiler;
    assert.equal(JOB_TYPE.label, "Brushwork Stylize");
    const byKey = Object.fromEntries(JOB_TYPE.settings.map((s) => [s.key, s]));
    for (const key of ["blendfile", "frames", "chunk_size", "style", "method", "coherence",
                       "brushwork_dir", "out_dir", "fps"]) {
        assert.ok(byKey[key], `missing setting ${key}`);
    }
    assert.equal(byKey.chunk_size.default, 12);
    assert.equal(byKey.coherence.default, 0.75);
    assert.deepEqual([...byKey.method.choices], ["AUTO", "linear-r31", "linear-r41", "ccpl", "wct-r31"]);
    assert.equal(byKey.method.default, "AUTO");
    assert.notEqual(byKey.blendfile.visible ?? "visible", "visible", "blendfile comes from the submitting Blender");
    assert.match(byKey.frames.eval, /frame_start.*frame_end/);
});

test('"1-48" in chunks of 12 gives 4 chunk tasks, then the join task', () => {
    const job = jobWith();
    const chunks = chunkTasks(job);
    assert.deepEqual(chunks.map((t) => optionOf(t, "--frames")), ["1-12", "13-24", "25-36", "37-48"]);
    assert.equal(job.tasks.length, 5);
    for (const task of chunks) {
        assert.equal(task.type, "blender");
        assert.equal(task.commands.length, 1);
    }
});

test('uneven "3-50" in chunks of 10 covers every frame once', () => {
    const chunks = chunkTasks(jobWith({ frames: "3-50", chunk_size: 10 }));
    assert.deepEqual(chunks.map((t) => optionOf(t, "--frames")), ["3-12", "13-22", "23-32", "33-42", "43-50"]);
});

test("a single frame, Blender's A..B notation, and a chunk larger than the range", () => {
    assert.deepEqual(chunkTasks(jobWith({ frames: "7" })).map((t) => optionOf(t, "--frames")), ["7-7"]);
    assert.deepEqual(chunkTasks(jobWith({ frames: "1..5", chunk_size: "2" })).map((t) => optionOf(t, "--frames")),
                     ["1-2", "3-4", "5-5"]);
    assert.deepEqual(chunkTasks(jobWith({ chunk_size: 100 })).map((t) => optionOf(t, "--frames")), ["1-48"]);
});

test("a chunk command is the blender-render invocation of render_stylized.py", () => {
    const [first] = chunkTasks(jobWith());
    const command = first.commands[0];
    assert.equal(command.name, "blender-render");
    const p = command.parameters;
    assert.equal(p.exe, "{blender}");
    assert.equal(p.exeArgs, "{blenderArgs}");
    assert.deepEqual([...p.argsBefore], []);
    assert.equal(p.blendfile, SETTINGS.blendfile);
    assert.deepEqual([...p.args], [
        "-P", "/farm/brushwork/scripts/render_stylized.py", "--",
        "--style", "/farm/styles/starry night.jpg",
        "--frames", "1-12",
        "--out", "/farm/renders/shot010",
        "--method", "ccpl",
        "--coherence", "0.6",
        "--overlap", "0",
    ]);
});

test("every chunk has the style, out_dir, method and coherence; later chunks overlap one frame", () => {
    const chunks = chunkTasks(jobWith());
    for (const task of chunks) {
        assert.equal(optionOf(task, "--style"), SETTINGS.style);
        assert.equal(optionOf(task, "--out"), SETTINGS.out_dir);
        assert.equal(optionOf(task, "--method"), "ccpl");
        assert.equal(optionOf(task, "--coherence"), "0.6");
        assert.equal(argsOf(task).indexOf("--"), 2, "script options follow the -- separator");
    }
    assert.deepEqual(chunks.map((t) => optionOf(t, "--overlap")), ["0", "1", "1", "1"]);
});

test("method AUTO leaves --method out; missing method and coherence take the defaults", () => {
    for (const task of chunkTasks(jobWith({ method: "AUTO" }))) {
        assert.ok(!argsOf(task).includes("--method"));
    }
    const [first] = chunkTasks(jobWith({ method: undefined, coherence: undefined }));
    assert.ok(!argsOf(first).includes("--method"));
    assert.equal(optionOf(first, "--coherence"), "0.75");
});

test("the join task is last and depends on every chunk task", () => {
    const job = jobWith({ frames: "3-50", chunk_size: 10 });
    const join = job.tasks[job.tasks.length - 1];
    const chunks = job.tasks.slice(0, -1);
    assert.equal(join.name, "join-video");
    assert.equal(chunks.length, 5);
    assert.deepEqual(join.dependencies.map((t) => t.uuid).sort(), chunks.map((t) => t.uuid).sort());
    for (const task of chunks) {
        assert.equal(task.dependencies.length, 0, "chunks are independent of each other");
    }
    const p = join.commands[0].parameters;
    assert.equal(join.commands[0].name, "blender-render");
    assert.equal(p.exe, "{blender}");
    assert.deepEqual([...p.argsBefore], []);
    assert.equal(p.blendfile, "");
    assert.deepEqual([...p.args], [
        "-P", "/farm/brushwork/scripts/render_stylized.py", "--",
        "--join", "/farm/renders/shot010",
        "--fps", "24",
        "--video", "/farm/renders/shot010/shot010-3-50.mp4",
    ]);
});

test("a fractional frame rate reaches the join task unrounded", () => {
    const job = jobWith({ fps: 24000 / 1001 });
    const join = job.tasks[job.tasks.length - 1];
    assert.equal(optionOf(join, "--fps"), String(24000 / 1001));
});

test("paths may start with a Flamenco variable or a Windows drive", () => {
    const job = jobWith({ style: "{storage}/styles/a.png", out_dir: "S:\\renders\\shot", brushwork_dir: "{brushwork}" });
    const [first] = chunkTasks(job);
    assert.equal(optionOf(first, "--style"), "{storage}/styles/a.png");
    assert.equal(argsOf(first)[1], "{brushwork}/scripts/render_stylized.py");
});

const invalid = [
    ["a missing style", { style: undefined }, /"style" setting is missing/],
    ["an empty style", { style: "  " }, /"style" setting is missing/],
    ["a relative style", { style: "styles/a.png" }, /"style" must be an absolute path/],
    ["a Blender-relative style", { style: "//styles/a.png" }, /"style" must be an absolute path/],
    ["a missing out_dir", { out_dir: "" }, /"out_dir" setting is missing/],
    ["a missing brushwork_dir", { brushwork_dir: undefined }, /"brushwork_dir" setting is missing/],
    ["a missing blendfile", { blendfile: undefined }, /"blendfile" setting is missing/],
    ["a missing frame range", { frames: "" }, /"frames" setting is missing/],
    ["a backwards range 10-5", { frames: "10-5" }, /frames "10-5" ends before it starts/],
    ["a frame list", { frames: "1-10,20-30" }, /frames "1-10,20-30" is not a range/],
    ["a non-number range", { frames: "a-b" }, /is not a range/],
    ["chunk_size 0", { chunk_size: 0 }, /chunk_size must be a whole number of at least 1, not 0/],
    ["a negative chunk_size", { chunk_size: -3 }, /chunk_size must be .* at least 1/],
    ["a fractional chunk_size", { chunk_size: 2.5 }, /chunk_size must be a whole number/],
    ["an unknown method", { method: "linear" }, /method "linear" is unknown; use one of AUTO, linear-r31/],
    ["coherence 1", { coherence: 1 }, /coherence must be at least 0 and below 1/],
    ["a negative coherence", { coherence: -0.1 }, /coherence must be at least 0 and below 1/],
    ["no fps", { fps: undefined }, /fps must be a positive number/],
];
for (const [what, overrides, message] of invalid) {
    test(`${what} is refused with a clear error`, () => {
        assert.throws(() => jobWith(overrides), { message });
    });
}

test("a refused job gets no tasks", () => {
    const job = { settings: { ...SETTINGS, chunk_size: 0 }, tasks: [], addTask(t) { this.tasks.push(t); } };
    assert.throws(() => compiler.compileJob(job));
    assert.equal(job.tasks.length, 0);
});
