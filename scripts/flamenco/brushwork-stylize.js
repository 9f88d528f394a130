// Brushwork Stylize: a Flamenco job type that renders an animation and paints it in
// the style of one image, in chunks of frames spread over the farm's workers.
//
// Install: copy this file into the `scripts/` folder next to the flamenco-manager
// executable (create the folder if needed) and restart the Manager. The job type is
// then named "brushwork-stylize" (from the file name) and Flamenco's Blender add-on
// offers it as "Brushwork Stylize". See docs/flamenco.md.
//
// Each chunk task runs, on a worker:
//   {blender} {blenderArgs} FILE.blend -P BRUSHWORK/scripts/render_stylized.py --
//       --style STYLE --frames START-END --out OUT_DIR [--method M] --coherence C --overlap N
// and a last task, after all chunks, joins OUT_DIR's frames into an MP4:
//   {blender} {blenderArgs} -P BRUSHWORK/scripts/render_stylized.py --
//       --join OUT_DIR --fps FPS --video OUT_DIR/NAME.mp4

const METHODS = ["AUTO", "linear-r31", "linear-r41", "ccpl", "wct-r31"];

const JOB_TYPE = {
    label: "Brushwork Stylize",
    description: "Render frames with motion vectors and stylize them with Brushwork, chunk by chunk",
    settings: [
        // Chosen by the artist when submitting:
        { key: "frames", type: "string", required: true,
          eval: "f'{C.scene.frame_start}-{C.scene.frame_end}'",
          evalInfo: { showLinkButton: true, description: "Scene frame range" },
          description: "Frames to render and stylize, as one range START-END, e.g. 1-48" },
        { key: "chunk_size", type: "int32", default: 12, propargs: { min: 1 },
          description: "Frames per task; each task renders and stylizes its frames on one worker" },
        { key: "style", type: "string", subtype: "file_path", required: true,
          description: "Style image (PNG, JPEG, TIFF, EXR): an absolute path on the shared storage" },
        { key: "method", type: "string", default: "AUTO", choices: METHODS,
          description: "Style transfer method; AUTO uses the strongest one with trained networks" },
        { key: "coherence", type: "float", default: 0.75, propargs: { min: 0.0, max: 0.95 },
          description: "How much of the previous stylized frame, moved along the motion vectors, each frame keeps (0: every frame alone)" },
        { key: "out_dir", type: "string", subtype: "dir_path", required: true,
          description: "Folder on the shared storage for the stylized frames (frame_00001.png ...) and the MP4" },
        { key: "brushwork_dir", type: "string", subtype: "dir_path", required: true,
          description: "The Brushwork folder as the workers see it (holds scripts/render_stylized.py)" },

        // Filled in automatically by the submitting Blender:
        { key: "blendfile", type: "string", required: true, visible: "web",
          description: "Path of the Blend file to render" },
        { key: "fps", type: "float", eval: "C.scene.render.fps / C.scene.render.fps_base", visible: "hidden",
          description: "Frame rate of the joined video" },
    ],
};

function compileJob(job) {
    const s = checkedSettings(job.settings);
    const script = path.join(s.brushwork_dir, "scripts", "render_stylized.py");

    const chunkTasks = [];
    for (const chunk of splitFrames(s.start, s.end, s.chunk_size)) {
        const first = chunk[0], last = chunk[1];
        const task = author.Task(`stylize-${first}-${last}`, "blender");
        const args = ["-P", script, "--",
                      "--style", s.style,
                      "--frames", `${first}-${last}`,
                      "--out", s.out_dir];
        if (s.method !== "AUTO") {
            args.push("--method", s.method);
        }
        // A chunk re-renders the frame before its start to carry coherence across the
        // boundary; the job's first chunk has nothing before it to carry.
        args.push("--coherence", String(s.coherence), "--overlap", first === s.start ? "0" : "1");
        task.addCommand(author.Command("blender-render", {
            exe: "{blender}",
            exeArgs: "{blenderArgs}",
            argsBefore: [],
            blendfile: s.blendfile,
            args: args,
        }));
        job.addTask(task);
        chunkTasks.push(task);
    }

    const stem = path.stem(s.blendfile).replace(/\.flamenco$/, "");
    const video = path.join(s.out_dir, `${stem}-${s.start}-${s.end}.mp4`);
    const joinTask = author.Task("join-video", "blender");
    joinTask.addCommand(author.Command("blender-render", {
        exe: "{blender}",
        exeArgs: "{blenderArgs}",
        argsBefore: [], // no --factory-startup: the worker's Brushwork preferences pick the Python
        blendfile: "", // The worker leaves an empty blendfile out of the command line.
        args: ["-P", script, "--", "--join", s.out_dir, "--fps", String(s.fps), "--video", video],
    }));
    for (const task of chunkTasks) {
        joinTask.addDependency(task);
    }
    job.addTask(joinTask);
}

// The settings compileJob needs, checked, with JOB_TYPE defaults for missing ones.
// Throws an Error that says which setting is wrong and how to fix it.
function checkedSettings(settings) {
    const get = (key) => {
        const value = settings[key];
        if (value !== undefined && value !== null && value !== "") {
            return value;
        }
        const spec = JOB_TYPE.settings.find((it) => it.key === key);
        return spec.default;
    };
    const need = (key, what) => {
        const value = get(key);
        if (value === undefined || String(value).trim() === "") {
            throw new Error(`Brushwork Stylize: the "${key}" setting is missing; give ${what}`);
        }
        return String(value).trim();
    };
    const absolute = (key, what) => {
        const value = need(key, what);
        // "/x", "C:\x", "\\server\x", or a Flamenco variable like "{storage}/x";
        // "//x" is Blender's relative-to-the-.blend notation, which workers can't resolve.
        if (value.startsWith("//") || !/^(\/|\\\\|[A-Za-z]:[\\/]|\{\w+\})/.test(value)) {
            throw new Error(`Brushwork Stylize: "${key}" must be an absolute path on the shared storage, not "${value}"`);
        }
        return value;
    };

    const out = {
        blendfile: need("blendfile", "the .blend to render (Flamenco's add-on fills it in)"),
        style: absolute("style", "the style image, an absolute path on the shared storage"),
        out_dir: absolute("out_dir", "a folder on the shared storage for the stylized frames"),
        brushwork_dir: absolute("brushwork_dir", "the Brushwork folder as the workers see it"),
        method: need("method", `one of ${METHODS.join(", ")}`),
    };

    const frames = need("frames", "the frame range START-END, e.g. 1-48");
    const m = /^(\d+)\s*(?:(?:-|\.\.)\s*(\d+))?$/.exec(frames);
    if (!m) {
        throw new Error(`Brushwork Stylize: frames "${frames}" is not a range; give START-END with ` +
                        "whole numbers, e.g. 1-48 (one range only: chunks need consecutive frames)");
    }
    out.start = parseInt(m[1], 10);
    out.end = m[2] === undefined ? out.start : parseInt(m[2], 10);
    if (out.end < out.start) {
        throw new Error(`Brushwork Stylize: frames "${frames}" ends before it starts; give START-END with START <= END`);
    }

    out.chunk_size = Number(get("chunk_size"));
    if (!Number.isInteger(out.chunk_size) || out.chunk_size < 1) {
        throw new Error(`Brushwork Stylize: chunk_size must be a whole number of at least 1, not ${get("chunk_size")}`);
    }
    if (METHODS.indexOf(out.method) < 0) {
        throw new Error(`Brushwork Stylize: method "${out.method}" is unknown; use one of ${METHODS.join(", ")}`);
    }
    out.coherence = Number(get("coherence"));
    if (!(out.coherence >= 0 && out.coherence < 1)) {
        throw new Error(`Brushwork Stylize: coherence must be at least 0 and below 1, not ${get("coherence")}`);
    }
    out.fps = Number(get("fps"));
    if (!(out.fps > 0 && Number.isFinite(out.fps))) {
        throw new Error(`Brushwork Stylize: fps must be a positive number, not ${get("fps")}`);
    }
    return out;
}

// [[first, last], ...]: START..END in runs of at most `size` frames.
function splitFrames(start, end, size) {
    const chunks = [];
    for (let first = start; first <= end; first += size) {
        chunks.push([first, Math.min(first + size - 1, end)]);
    }
    return chunks;
}
