namespace XTuner.Core
{
    /// <summary>
    /// What kind of failure an ErrorId is (see <see cref="ErrorIds.KindOf"/>). Each name is that of a member of
    /// PowerShell's <c>ErrorCategory</c>, which the cmdlets turn it into; Core itself does not depend on PowerShell.
    /// </summary>
    public enum ErrorKind
    {
        NotSpecified,
        InvalidArgument,
        InvalidData,
        InvalidOperation,
        InvalidResult,
        ObjectNotFound,
        ResourceExists,
        ResourceBusy,
        ResourceUnavailable,
        NotInstalled,
        OperationTimeout,
        OperationStopped,
        ReadError,
        WriteError,
        ConnectionError,
        AuthenticationError,
        LimitsExceeded,
    }
}
