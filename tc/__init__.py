"""tc: an ahead-of-time tensor compiler.

    import tc
    mod = tc.compile("model.onnx", target="llvm")
    y, = mod.run([x])
    mod.export("model.so")
    mod = tc.load("model.so")

Importing tc is cheap and inert: it starts no threads and builds nothing.
"""
__version__ = "0.1.0"
