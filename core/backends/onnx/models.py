"""The shipped ONNX graphs: which exist, where, their sha256, and how they are made.

Every network part whose weights are trained ships as one small graph per wrap mode
(`models/<net>-<wrap>.onnx`). The graphs hold no weights of their own: their
initializers point into the safetensors file beside them (ONNX external data), so the
extension carries each weight once. `scripts/export_onnx.py` writes them; a test checks
that the files are exactly what `graph_bytes` produces now.
"""
from __future__ import annotations

from pathlib import Path

from ...backends.onnx.graph import model_bytes
from ...nets import safetensors_file, weights
from ...nets.architecture import ENCODERS, MODELS, WRAPS, Net

COMMAND = "python scripts/export_onnx.py"
# file → sha256, filled in from scripts/export_onnx.py's output (models/MODELS.md lists them).
SHA256 = {
    "encoder_r31-none.onnx": "4871e1c1ba748313ba6c79940db86e5e2f880dc20bee8befa0b8fa4c8a279dae",
    "encoder_r31-x.onnx": "5febd45accf2c49adb501026f8c4b7c88f0c799b14134d1e29e9427e5f7f23b1",
    "encoder_r31-both.onnx": "b87db82314933de120231576d06975a1c7450b4743842526c03de0a8f98683f7",
    "encoder_r41-none.onnx": "0e400746c08632b81bd69b42cf445f711efef14ef52dfdda7ffdb1b13cd78827",
    "encoder_r41-x.onnx": "7ec153cd5ddf5c3e916db4e49c9494b3816ba0235856ed7c4e437b91a0bba336",
    "encoder_r41-both.onnx": "061a1809d30bcfc64bc1aff353c5b325407fa301caa2e321485014c699227d0f",
    "decoder_r31.decoder-none.onnx": "e74d864888f173ccc5e475588adec278dd13822408164b817ef64e449d1aa14d",
    "decoder_r31.decoder-x.onnx": "e9d4b4cbff71e70a7358ad93ee96226b3f550bf4bf984bc4bdfee0e9830d3155",
    "decoder_r31.decoder-both.onnx": "1f711367ae464c269565dd052066652cbbf171ae3aa566ca748bd9e698341465",
    "decoder_r41.decoder-none.onnx": "172e2c31526ae87aefd096704b99c246aa8cf04ada36c613222a1a13fc76ee66",
    "decoder_r41.decoder-x.onnx": "93ee70a4332e04aee91e5c0cf36435604aae1ae467a4c362937a2f804db4240b",
    "decoder_r41.decoder-both.onnx": "e4eed4a8e945e386a106b84a4ec06c8c83bfe4cb3202a7d92156a6f2361b5ae6",
    "linear_r31.cnet-none.onnx": "cd11e94ecd0434756d18a96341494bfeac896ce95e52b062fe217db5c628718a",
    "linear_r31.cnet-x.onnx": "31c47fa2804d53d6d11516a8c7a7ab73a76a860dba38ac16428318023a1782a1",
    "linear_r31.cnet-both.onnx": "150f152dcfe37bedb016243624b4acf686e6b79dcc6a74e5af3362c71e4c8389",
    "linear_r31.snet-none.onnx": "99581b3e46c3efc71561c3c2bbfb3a1af6a6f69c7044e28565dbc24a59fd2f99",
    "linear_r31.snet-x.onnx": "48abd50ab2cd5f09bb2908fcac1122b8a4af493c4db7252b7647f7dd126c02e5",
    "linear_r31.snet-both.onnx": "5646fe6aca7cf76e59ab8ef8da131724af0a0600692cb1a8187fce32003b83d1",
    "ccpl_r31.cnet-none.onnx": "f55dd2cc37e0e0737ed789f61a945d5df199055fd0c457256f2e4c11616985db",
    "ccpl_r31.cnet-x.onnx": "f602cc4f15f8929d3f304249f49ae8b5f22dc1ac5a719eae61012e60e2f320c5",
    "ccpl_r31.cnet-both.onnx": "b92c10a0ae5f081a1b64b6f18a45b8f6b9cafbff6b8eb2a793beb6bd5f0e45d2",
    "ccpl_r31.snet-none.onnx": "c36ea969820c6c9af052d8fd176b22570c94d6401080b422be370199275f33ec",
    "ccpl_r31.snet-x.onnx": "693cd59be57e3d406f5a4c9769fe14256d5fb9d18663f6bf21835423f12e5a25",
    "ccpl_r31.snet-both.onnx": "b2a7a59ec3cfa809f8ba62bb3134cccdaac5c315703d52a436d2c99773e3c082",
    "linear_r41.cnet-none.onnx": "5117b51d5b1fb06ec2263e3bce14292ba97272ff3c82af5da27edbd2bb7af8f0",
    "linear_r41.cnet-x.onnx": "5e8b7075913d2aae60ed88f92fbf96ce0ef381bbed58b9a8d1be5b3c25a53366",
    "linear_r41.cnet-both.onnx": "213fd3176160faa180161095998edb609add9a65b8320e72a7d32c597023935f",
    "linear_r41.snet-none.onnx": "ad7e4f11cdddc651bd329737c51c0d54016ce3144c6a68c99c1e14b5597d2a46",
    "linear_r41.snet-x.onnx": "eab962a829416244864e046ee0512bc8a5d2b0d094193f1a7d40f1d896e47cb0",
    "linear_r41.snet-both.onnx": "6ca0bd8bdedd617cc62ac65e7d87d7dd406e39ae10216e0550e012786358b0ce",
    "ccpl_r41.cnet-none.onnx": "e9c22100bb5406e23d817e4da70a0a9165594a2be9f77f9292d129e9883f493d",
    "ccpl_r41.cnet-x.onnx": "25e9476e2fc2d38e22eb1f0f82a89dcb0ae6c24e900f86923456c9c7af9c12dd",
    "ccpl_r41.cnet-both.onnx": "ee390a0bd68a8bc179201143ed462c6cd5e2727360ab5b48d20bcb66a0759ff8",
    "ccpl_r41.snet-none.onnx": "035f8899df18de952a5516e0ab20a51dbd27e425ff364b8ca56eefb93b27c0f4",
    "ccpl_r41.snet-x.onnx": "1935eeba6df79a015104015eae31b302be6b26ecd693999d58d3cef5c865e907",
    "ccpl_r41.snet-both.onnx": "835f36d10dc93801b4de8f4e0813d87207e79d82a76e46fd6cf388b8ab573417",
    "ccpl_decoder_r41.decoder-none.onnx": "119cb09921a43420d52823142a7d88de9624136b4702ec5d3f5895cfd0c48abf",
    "ccpl_decoder_r41.decoder-x.onnx": "9736abd433c39e8c855d219252c772dd06d94d1e759bca6945a6e8885f3bf1a8",
    "ccpl_decoder_r41.decoder-both.onnx": "4dc8a28f5f3d8aa543e3735f460d8ab585bed15c50f5db05679eac41732fe776",
    "ccpl_decoder_r31.decoder-none.onnx": "17ac717348e6e2dc1b4e5fd7b3d29d5b3ad24dbfb1e4a58a5e960cc39619ad3b",
    "ccpl_decoder_r31.decoder-x.onnx": "ecf1b36bc50e92e9681852e1d38d4a74df69e4c4a94d23378d9a6113bf148945",
    "ccpl_decoder_r31.decoder-both.onnx": "5a24b0e9bd7285547600bfda7addb16ccf39246fdb25db921cce5669257a71b3",
    "linear_decoder_r41.decoder-none.onnx": "e3c1f85597f4d39c3d368e5190fb0bf8f8845773cfe2f09a7b22cabbdcdd0e7a",
    "linear_decoder_r41.decoder-x.onnx": "a69c125484d4ac9e3f2a94e870a1968eb7395c97963b0944d5295041bd49d293",
    "linear_decoder_r41.decoder-both.onnx": "82d5601415f974baa5926a43f6a53a5fab7889692cec98c8cd602c1bf7c849aa",
}


def nets() -> list[Net]:
    """Every net the engine runs: encoders, and each model's parts."""
    out = [Net.encoder(k) for k in ENCODERS]
    for key, model in MODELS.items():
        if "encoder" not in model.parts:  # encoders above; the raw VGG-19 only judges training
            out += [Net.of(key, p) for p in model.parts]
    return out


def shipped() -> list[tuple[Net, str]]:
    """(net, wrap) of every graph that ships: those whose weights are trained."""
    return [(net, wrap) for net in nets() if weights.is_trained(net.key) for wrap in WRAPS]


def file_name(net: Net, wrap: str) -> str:
    return f"{net}-{wrap}.onnx"


def graph_bytes(net: Net, wrap: str, models_dir: Path | None = None) -> bytes:
    """The shipped graph's bytes, its initializers pointing into the weight file."""
    file = MODELS[net.key].file
    table = safetensors_file.layout(Path(models_dir or weights.MODELS_DIR) / file)
    part = net.part
    return model_bytes(part, wrap, {name: (file, table[name]) for name in part.params()},
                       preprocess=net.preprocess,
                       doc=f"Brushwork {net}, wrap {wrap}; weights in {file}. Made by `{COMMAND}`.")
