namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>A piece of normalized text on its way to the model; <see cref="AtInputStart"/> when it begins the whole input.</summary>
    internal readonly record struct PreToken(string Text, bool AtInputStart);
}
