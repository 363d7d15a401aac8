namespace XTuner.Training.Data.Sources
{
    /// <summary>One record of a data file as a JSON object: a JSONL line, or a Parquet row written as JSON.</summary>
    /// <param name="Number">The 1-based line (JSONL) or row (Parquet) that errors name.</param>
    /// <param name="Json">The record's JSON text.</param>
    internal readonly record struct DataRecord(long Number, string Json);
}
