namespace Notification.Service.Sending;

public static class SendEndpoints
{
    /// <summary><c>GET /sends?customerId=</c>, <c>GET /sends/summary</c> and <c>GET /health</c>.</summary>
    public static IEndpointRouteBuilder MapNotificationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/sends", async (string? customerId, SendLedger ledger, CancellationToken cancellationToken) =>
            Results.Ok(new
            {
                sends = await ledger.Sends(customerId, cancellationToken),
                refused = await ledger.Refusals(customerId, cancellationToken),
            }));
        app.MapGet("/sends/summary", async (SendLedger ledger, CancellationToken cancellationToken) =>
            Results.Ok(await ledger.Summary(cancellationToken)));
        app.MapHealthChecks("/health");
        return app;
    }
}
