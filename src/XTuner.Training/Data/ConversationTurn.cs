namespace XTuner.Training.Data
{
    /// <summary>One exchange: optional system text, the user's input, and the reply to learn (unless <see cref="Learn"/> is false).</summary>
    public sealed record ConversationTurn(string? System, string Input, string Output, bool Learn = true);
}
