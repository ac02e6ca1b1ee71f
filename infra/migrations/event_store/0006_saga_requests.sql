-- As 0005's trigger function, plus the two events of a saga requested before it is planned:
-- SagaRequested (pending) and SagaRejected (failed, with its error).
CREATE OR REPLACE FUNCTION saga_event_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stream_type <> 'saga' THEN
        RETURN NEW;
    END IF;
    NEW.saga_id := NEW.stream_id;
    NEW.saga_type := coalesce(NEW.event_data->>'saga_type', NEW.saga_type);
    NEW.step_name := left(coalesce(NEW.event_data->>'name', 'saga'), 100);
    NEW.step_status := CASE NEW.event_type
        WHEN 'SagaStepCompleted' THEN 'completed'
        WHEN 'SagaCompleted' THEN 'completed'
        WHEN 'SagaStepFailed' THEN 'failed'
        WHEN 'SagaCompensationFailed' THEN 'failed'
        WHEN 'SagaStuck' THEN 'failed'
        WHEN 'SagaRejected' THEN 'failed'
        WHEN 'SagaStepCompensated' THEN 'compensated'
        WHEN 'SagaCompensated' THEN 'compensated'
        ELSE 'pending'
    END;
    NEW.error_message := CASE
        WHEN NEW.event_type IN ('SagaStepFailed', 'SagaCompensationFailed', 'SagaStuck', 'SagaRejected')
            THEN NEW.event_data->>'error'
        WHEN NEW.event_type IN ('SagaCompensationStarted', 'SagaCompensated')
            THEN NEW.event_data->>'reason'
    END;
    NEW.completed_at := CASE WHEN NEW.step_status = 'pending' THEN NULL ELSE now() END;
    RETURN NEW;
END;
$$;
