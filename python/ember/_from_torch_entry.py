"""ember.from_torch and ember.import_torch_module, importing torch (and the
mapping tables) only when first called: ``import ember`` stays torch-free."""


def from_torch(module, example_inputs, dynamic_dims=None, input_names=None,
               output_names=None, method=None, fold_batch_norm=True):
    from ember._from_torch import from_torch as implementation
    return implementation(module, example_inputs, dynamic_dims, input_names, output_names,
                          method, fold_batch_norm)


def import_torch_module(module, example_inputs, dynamic_dims=None, method=None):
    from ember._from_torch import import_torch_module as implementation
    return implementation(module, example_inputs, dynamic_dims, method)


from_torch.__doc__ = """Imports a torch.nn.Module and exports it as an
ember.ExportedProgram (see ember._from_torch)."""
import_torch_module.__doc__ = """A torch.nn.Module as a trainable ember.nn.Module
(see ember._from_torch)."""
